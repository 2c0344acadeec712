/**
 * Host error codes (ENOENT, EACCES, EADDRINUSE...) in words for one-line CLI messages: a user
 * reads "permission denied: check the file's owner and mode", not "EACCES".
 */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: "permission denied: check the file's owner and mode (ls -l)",
  EPERM: "operation not permitted: check the file's owner and mode (ls -l)",
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many symbolic links (a link loop?)',
  EMFILE: 'too many open files (raise the limit: ulimit -n)',
  ENFILE: 'too many open files on the system',
  ENOSPC: 'no space left on the device',
  EROFS: 'the file system is read-only',
  EBUSY: 'the file is busy (in use by another program)',
  ENAMETOOLONG: 'the file name is too long',
  EADDRINUSE: 'address already in use: another program listens there (choose another port)',
  EADDRNOTAVAIL: 'address not available on this host',
  ECONNREFUSED: 'connection refused: nothing listens there',
};

/** An error from node:fs or node:net in words ("no such file or directory"), never a bare "ENOENT". */
export function describeError(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && Object.hasOwn(ERRNO_WORDS, code)) return ERRNO_WORDS[code]!;
  return e instanceof Error ? e.message : String(e);
}
