/**
 * What can go wrong talking to the daemon, as values the CLI maps to one-line messages and exit
 * statuses (src/cli/vm-errors.ts): the daemon's own JSON errors, no daemon at all, and answers
 * that are not the API's.
 */

/** The daemon answered with an HTTP error: `{error: {code, message}}` (or something else). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Nothing listens where the client looked (no socket file, connection refused). */
export class DaemonUnreachable extends Error {
  constructor(
    /** The socket path or URL that was tried. */
    readonly where: string,
    /** Why, in words: "no such socket", "connection refused". */
    readonly why: string,
  ) {
    super(`no daemon reachable at ${where} (${why})`);
    this.name = 'DaemonUnreachable';
  }
}

/** Talking to the daemon failed in another way: a broken answer, a dropped connection. */
export class ClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientError';
  }
}
