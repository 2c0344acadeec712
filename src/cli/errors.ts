/**
 * Errors the CLI turns into a one-line message and an exit status, never a stack trace.
 * Exit statuses: 0 success, 1 runtime failure (or a guest verdict; also a busy host resource: a
 * port in use, an image locked by another program), 2 bad input (flags, files, images). The full
 * list, per command, is `virtkit help exit-status` (help-topics.ts).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad flags, bad arguments, unreadable or malformed input files: exit status 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}
