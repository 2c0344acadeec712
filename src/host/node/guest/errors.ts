/**
 * A guest operating system could not be fetched or unpacked (apt tools missing, a package not
 * found, an archive without the expected files). The CLI prints the message on one line and
 * exits 1; other front ends (the web server, the manager) report it their own way.
 */
export class GuestFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GuestFetchError';
  }
}
