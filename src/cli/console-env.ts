/**
 * Terminal width for the guest's shell, passed on the default kernel command line. A serial
 * console (ttyS0) has no way to carry a terminal size, so the guest's tty reports 0x0 and busybox
 * ash falls back to 80 columns: it wraps long command lines at 80 with its own line breaks, in a
 * wide terminal and in piped output alike. Linux hands unknown KEY=VALUE command-line words to
 * init as environment variables, the shell inherits them, and busybox takes COLUMNS/LINES over
 * the tty's size.
 *
 * - stdout not a terminal: COLUMNS=29999 (the largest width busybox accepts), so a line comes back
 *   as one line however long; there are no rows to tell.
 * - stdout a terminal: its size at boot. A later resize cannot reach the guest over a serial
 *   line (virtio-console could carry it, but the default guest's console is ttyS0), and the
 *   variables then keep the boot-time size.
 */

/** busybox ignores a COLUMNS of 30000 or more. */
export const PIPE_COLUMNS = 29999;

/** What of the host's stdout matters (Node's tty.WriteStream has these). */
export interface OutputTerminal {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

/** The words to add to the kernel command line (each with a leading space), or ''. */
export function consoleEnvironment(out: OutputTerminal): string {
  if (!out.isTTY) return ` COLUMNS=${PIPE_COLUMNS}`;
  const ok = (n: number | undefined): n is number => Number.isInteger(n) && n! > 1 && n! < 30000;
  let words = '';
  if (ok(out.columns)) words += ` COLUMNS=${out.columns}`;
  if (ok(out.rows)) words += ` LINES=${out.rows}`;
  return words;
}
