/**
 * The host side of a VM's serial console in a terminal.
 *
 * - When stdin is a TTY it is put in raw mode, and Ctrl-A is an escape prefix as in QEMU:
 *   Ctrl-A x quits, Ctrl-A s saves a snapshot, Ctrl-A h shows help, Ctrl-A Ctrl-A sends Ctrl-A.
 *   The terminal is always restored on exit, even on errors.
 * - When stdin is a pipe or file its bytes go to the guest as they are; end of input is
 *   reported (the VM keeps running until the guest powers off).
 */
export interface ConsoleHandlers {
  /** Bytes typed by the user for the guest. */
  input(bytes: Uint8Array): void;
  quit(): void;
  snapshot(): void;
  /** stdin reached end of file (pipes). */
  end?(): void;
}

const CTRL_A = 0x01;

export class HostConsole {
  private escape = false;
  private readonly raw: boolean;
  private readonly onData = (chunk: Buffer) => this.feed(new Uint8Array(chunk));
  private readonly onEnd = () => this.handlers.end?.();

  constructor(
    private readonly handlers: ConsoleHandlers,
    private readonly stdin: NodeJS.ReadStream = process.stdin,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
  ) {
    this.raw = Boolean(stdin.isTTY);
  }

  start(): void {
    if (this.raw) {
      this.stdin.setRawMode(true);
      this.stderr('[virtkit: Ctrl-A x to quit, Ctrl-A s to save a snapshot, Ctrl-A h for help]\r\n');
    }
    this.stdin.on('data', this.onData);
    this.stdin.on('end', this.onEnd);
    this.stdin.resume();
  }

  stop(): void {
    this.stdin.off('data', this.onData);
    this.stdin.off('end', this.onEnd);
    if (this.raw) this.stdin.setRawMode(false);
    this.stdin.pause();
  }

  write(bytes: Uint8Array): void {
    this.stdout.write(bytes);
  }

  stderr(text: string): void {
    process.stderr.write(text);
  }

  /** Splits escape sequences from guest input (exposed for tests). */
  feed(bytes: Uint8Array): void {
    if (!this.raw) {
      this.handlers.input(bytes);
      return;
    }
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.escape) {
        this.escape = false;
        start = i + 1;
        if (b === CTRL_A) this.handlers.input(new Uint8Array([CTRL_A]));
        else if (b === 0x78 /* x */) this.handlers.quit();
        else if (b === 0x73 /* s */) this.handlers.snapshot();
        else if (b === 0x68 /* h */ || b === 0x3f)
          this.stderr('\r\n[virtkit: Ctrl-A x quit | Ctrl-A s save snapshot | Ctrl-A Ctrl-A send Ctrl-A]\r\n');
        continue;
      }
      if (b === CTRL_A) {
        if (i > start) this.handlers.input(bytes.subarray(start, i));
        this.escape = true;
        start = i + 1;
      }
    }
    if (!this.escape && start < bytes.length) this.handlers.input(bytes.subarray(start));
  }
}
