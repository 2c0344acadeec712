/**
 * `virtkit run --console-log FILE`: everything the guest prints, appended to FILE. Bounded: once
 * FILE holds CONSOLE_LOG_MAX bytes it is renamed to FILE.1 (replacing the previous one) and a
 * new FILE is started, so a guest printing for ever uses at most about twice that on disk.
 *
 * Writes are synchronous: guest output arrives in chunks bounded per VM turn, so a write is
 * small, the log is complete and in order at any instant (a crash loses nothing written), and
 * nothing is buffered in memory. A write that fails (disk full) is reported once and logging
 * stops; the VM runs on.
 */
import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import { describeError } from './errno-words.ts';

export const CONSOLE_LOG_MAX = 1024 * 1024;

export class ConsoleLog {
  private fd: number | undefined;
  private size: number;

  /** Opens FILE for appending; throws an Error saying why in words when it cannot. */
  constructor(
    readonly path: string,
    private readonly warn: (message: string) => void,
    private readonly max = CONSOLE_LOG_MAX,
  ) {
    try {
      this.fd = openSync(path, 'a', 0o600);
      this.size = fstatSync(this.fd).size;
    } catch (e) {
      throw new Error(`cannot open ${path}: ${describeError(e)}`);
    }
  }

  write(bytes: Uint8Array): void {
    if (this.fd === undefined || !bytes.length) return;
    try {
      if (this.size >= this.max) this.rotate();
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off);
      this.size += bytes.length;
    } catch (e) {
      this.warn(`console log ${this.path}: ${describeError(e)}: no more output is logged`);
      this.close();
    }
  }

  private rotate(): void {
    closeSync(this.fd!);
    this.fd = undefined;
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = 0;
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = undefined;
  }
}
