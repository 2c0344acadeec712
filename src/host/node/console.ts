/**
 * The host side of a VM's serial console in a terminal.
 *
 * - When stdin is a TTY it is put in raw mode, and Ctrl-A is an escape prefix as in QEMU:
 *   Ctrl-A x quits, Ctrl-A s saves a snapshot, Ctrl-A p presses the guest's power button,
 *   Ctrl-A h shows help, Ctrl-A Ctrl-A sends Ctrl-A.
 *   The terminal is always restored on exit, even on errors.
 * - When stdin is a pipe or file its bytes go to the guest as they are; end of input is
 *   reported (the VM keeps running until the guest powers off). PipedInput (below) paces such
 *   input a line at a time, the way a user at a terminal would type it, and InputGate pauses
 *   the pipe while too much of it waits for the guest, so an endless pipe costs bounded memory.
 * - Guest output goes to stdout through StreamOutput, which holds the VM's console devices while
 *   stdout is behind (write() returned false) until it drains.
 */
import { PromptWatch } from '../../vmm/prompt.ts';
export interface ConsoleHandlers {
  /** Bytes typed by the user for the guest. */
  input(bytes: Uint8Array): void;
  quit(): void;
  snapshot(): void;
  /** Ctrl-A p: press the guest's power button. */
  powerButton?(): void;
  /** stdin reached end of file (pipes). */
  end?(): void;
}

const CTRL_A = 0x01;

export class HostConsole {
  private escape = false;
  private readonly raw: boolean;
  private readonly onData = (chunk: Buffer) => this.feed(new Uint8Array(chunk));
  private readonly onEnd = () => this.handlers.end?.();
  /**
   * A terminal that hangs up (its window closed, the SSH session gone) fails reads with EIO:
   * that is the end of input, not a crash (the process is quitting on SIGHUP meanwhile).
   */
  private readonly onError = () => {
    if (this.stopped) return;
    this.stdin.off('data', this.onData);
    this.handlers.end?.();
  };

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
    this.stdin.on('error', this.onError);
    this.stdin.resume();
  }

  stop(): void {
    this.stopped = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('end', this.onEnd);
    // The error listener stays: a hung-up terminal may still report EIO after this.
    try {
      // Fails (EIO) when the terminal has hung up: there is nothing left to restore.
      if (this.raw) this.stdin.setRawMode(false);
      this.stdin.pause();
    } catch {
      /* the terminal is gone */
    }
  }

  private stopped = false;
  private inputPaused = false;

  /** Stops reading stdin (the guest has enough input waiting); see InputGate. */
  pauseInput(): void {
    if (this.inputPaused || this.stopped) return;
    this.inputPaused = true;
    this.stdin.pause();
  }

  /** Reads stdin again. */
  resumeInput(): void {
    if (!this.inputPaused || this.stopped) return;
    this.inputPaused = false;
    this.stdin.resume();
  }

  /** Writes to the console's stdout; false when the stream is behind (see StreamOutput). */
  write(bytes: Uint8Array): boolean {
    return this.stdout.write(bytes);
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
        else if (b === 0x70 /* p */) this.handlers.powerButton?.();
        else if (b === 0x68 /* h */ || b === 0x3f)
          this.stderr(
            '\r\n[virtkit: Ctrl-A x quit | Ctrl-A s save snapshot | Ctrl-A p press the power button | Ctrl-A Ctrl-A send Ctrl-A]\r\n',
          );
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

/** What StreamOutput holds and releases: the running VM's console devices. */
export interface OutputFlow {
  hold(): void;
  release(): void;
}

/**
 * Guest output to a Node stream with back-pressure: when write() returns false (the stream's
 * buffer is past its high-water mark) the VM's output is held until 'drain'. A stream that
 * fails (EPIPE: the reader went away) releases the VM for good and later output is dropped,
 * so the guest runs on as if nobody watched.
 */
export class StreamOutput {
  private waiting = false;
  private broken = false;
  private readonly onDrain = () => {
    if (!this.waiting) return;
    this.waiting = false;
    this.flow.release();
  };
  private readonly onError = () => {
    this.broken = true;
    this.stream.off('drain', this.onDrain);
    this.onDrain();
  };

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly flow: OutputFlow,
  ) {
    stream.on('error', this.onError);
  }

  write(bytes: Uint8Array): void {
    if (this.broken) return;
    let ok: boolean;
    try {
      ok = this.stream.write(bytes);
    } catch {
      this.onError();
      return;
    }
    if (!ok && !this.waiting && !this.broken) {
      this.waiting = true;
      this.flow.hold();
      this.stream.once('drain', this.onDrain);
    }
  }

  /** Stops listening to the stream (the VM is gone). */
  close(): void {
    this.stream.off('error', this.onError);
    this.stream.off('drain', this.onDrain);
  }
}

/** Piped input (including a line not typed yet) held before the pipe is paused. */
export const PIPED_INPUT_HIGH = 1024 * 1024;

/**
 * Pauses an input source while `backlog()` (bytes read but not yet taken by the guest) is at
 * least `high`, and resumes it once the backlog has fallen to half of that. Call update()
 * whenever the backlog may have changed (bytes read, a line typed).
 */
export class InputGate {
  paused = false;

  constructor(
    private readonly backlog: () => number,
    private readonly source: { pauseInput(): void; resumeInput(): void },
    private readonly high = PIPED_INPUT_HIGH,
  ) {}

  update(): void {
    const n = this.backlog();
    if (!this.paused && n >= this.high) {
      this.paused = true;
      this.source.pauseInput();
    } else if (this.paused && n <= this.high / 2) {
      this.paused = false;
      this.source.resumeInput();
    }
  }
}

/**
 * The longest piped line typed in one go. A longer "line" (a pipe with no newlines) is typed
 * in pieces of this size, each once the previous one is answered (or the guest idles), so an
 * unfinished line never grows without bound while the pipe is paused.
 */
export const PIPED_LINE_MAX = 64 * 1024;

const NEWLINE = 0x0a;

/**
 * Types a script read from a pipe into a guest shell one line at a time, as a user would: the
 * first line once the guest shows its first shell prompt, each later line once the shell shows a
 * prompt again after the previous one. A guest reboot starts over: nothing is typed until the new
 * boot's first prompt, so lines after `reboot -f` reach the new shell instead of the dying kernel.
 *
 * A prompt counts for a typed line only after the output has passed a newline (the echo of its
 * Enter, or its output), so the prompt the line was typed at, or a terminal query printed after
 * it, is not taken as the answer. Programs that read input without showing a prompt (`cat >
 * file`, here-documents) are served by idle(): the host calls it when the guest has sat idle and
 * silent for a while, and the next line is typed (never while booting: a boot has quiet spells).
 *
 * Platform-neutral logic with no timers; the host wires output, reboots, idleness and typing.
 */
export class PipedInput {
  /** Whole lines (each ending in \n, except a final one at end of input, or a piece of a long one) not yet typed. */
  private readonly lines: Uint8Array[] = [];
  /** Bytes of an unfinished line (no newline yet), less than PIPED_LINE_MAX of them. */
  private partial: Uint8Array[] = [];
  private partialLen = 0;
  private ended = false;
  /** Waiting for a boot's first prompt. */
  private booting: boolean;
  /** A line was typed and its prompt has not come back yet. */
  private answering = false;
  /** Output since the last line was typed (or since boot): its tail, and whether it passed a newline. */
  private readonly prompt = new PromptWatch();
  private sawNewline = false;
  private queued = 0;

  /**
   * `type` hands bytes to the guest. `booted`: the guest already sits at a prompt (a restored
   * snapshot), so the first line is typed at once.
   */
  constructor(
    private readonly type: (bytes: Uint8Array) => void,
    booted = false,
  ) {
    this.booting = !booted;
  }

  /** Bytes not yet typed (whole lines and an unfinished one). */
  get pendingBytes(): number {
    return this.queued + this.partialLen;
  }

  /** Every byte of input has been typed and the last line has been answered with a prompt. */
  get done(): boolean {
    return this.ended && this.pendingBytes === 0 && !this.answering && !this.booting;
  }

  /** Still waiting for the shell to show a prompt (during a boot, or after a typed line). */
  get waiting(): boolean {
    return this.booting || this.answering;
  }

  /** Bytes read from the pipe. */
  push(bytes: Uint8Array): void {
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(NEWLINE, start);
      const room = PIPED_LINE_MAX - this.partialLen;
      const end = nl >= 0 && nl - start < room ? nl + 1 : Math.min(bytes.length, start + room);
      this.partial.push(bytes.slice(start, end));
      this.partialLen += end - start;
      // A whole line, or a piece of a line too long to hold whole.
      if (bytes[end - 1] === NEWLINE || this.partialLen >= PIPED_LINE_MAX) this.endLine();
      start = end;
    }
    this.next();
  }

  /** The pipe ended: an unfinished last line is typed as it is. */
  end(): void {
    this.ended = true;
    if (this.partial.length) this.endLine();
    this.next();
  }

  private endLine(): void {
    this.queueLine(concat(this.partial));
    this.partial = [];
    this.partialLen = 0;
  }

  /** Guest console output: a prompt lets the next line through. */
  output(bytes: Uint8Array): void {
    let from = 0;
    if (!this.sawNewline && !this.booting) {
      const nl = bytes.lastIndexOf(NEWLINE);
      if (nl < 0) return;
      this.sawNewline = true;
      from = nl + 1;
    }
    if (!this.prompt.feed(bytes.subarray(from))) return;
    if (this.booting || this.answering) {
      this.booting = false;
      this.answering = false;
      this.next();
    }
  }

  /** The guest rebooted: hold the remaining lines until the new boot's first prompt. */
  rebooted(): void {
    this.booting = true;
    this.answering = false;
    this.prompt.reset();
  }

  /** The guest has been idle and silent for a while after a line: type the next one anyway. */
  idle(): void {
    if (this.booting || !this.answering) return;
    this.answering = false;
    this.next();
  }

  private queueLine(line: Uint8Array): void {
    this.lines.push(line);
    this.queued += line.length;
  }

  private next(): void {
    if (this.booting || this.answering) return;
    const line = this.lines.shift();
    if (!line) return;
    this.queued -= line.length;
    this.answering = true;
    this.sawNewline = false;
    this.prompt.reset();
    this.type(line);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** ESC [ 6 n: "where is the cursor?" (DSR 6), which busybox ash prints after every prompt. */
const CURSOR_QUERY = [0x1b, 0x5b, 0x36, 0x6e];
/** The largest column reported: busybox keeps 15 bits of it, and takes widths below 30000. */
const MAX_COLUMN = 29999;

/**
 * Guest console output bound for a host side that is not a terminal (a pipe, a file): nobody
 * there answers the guest's cursor-position queries, and the query bytes are noise in a log.
 * filter() removes each ESC[6n and hands `answer` the reply a terminal would send, ESC[1;<col>R,
 * with the column tracked from the output (printable bytes since the last CR/LF, tabs to the next
 * multiple of 8, backspace one back, escape sequences and UTF-8 continuation bytes none). A pipe
 * has no screen height, so the row is always 1 (busybox ash uses only the column: it corrects its
 * idea of where the prompt ended). A query split across chunks is recognized: up to 3 bytes of a
 * possible query are held back until the next chunk (or flush()). Memory is constant.
 *
 * A query printed after input was sent (inputSent()) and before the output has passed a newline
 * is removed but not answered: the shell asked at the prompt that input was typed at, and the
 * reply would arrive after the input, where the command it started would read it as its own
 * (busybox asks only when no input is waiting, and does without the reply).
 */
export class CursorQueries {
  /** Bytes of CURSOR_QUERY matched so far (held back from the output). */
  private matched = 0;
  private column = 1;
  /** Inside a CSI escape sequence (ESC [ ... final byte), which moves no column. */
  private csi = false;
  private escape = false;
  /** Input was sent and the output has not passed a newline since. */
  private unanswered = false;

  constructor(private readonly answer: (reply: Uint8Array) => void) {}

  /** The output with the queries removed. */
  filter(bytes: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.matched + bytes.length);
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === CURSOR_QUERY[this.matched]) {
        if (++this.matched < CURSOR_QUERY.length) continue;
        this.matched = 0;
        if (!this.unanswered) this.answer(new TextEncoder().encode(`\x1b[1;${Math.min(this.column, MAX_COLUMN)}R`));
        continue;
      }
      // Not a query after all: the held prefix is output, and b may start a query itself.
      for (let j = 0; j < this.matched; j++) n = this.put(out, n, CURSOR_QUERY[j]!);
      this.matched = 0;
      if (b === CURSOR_QUERY[0]) this.matched = 1;
      else n = this.put(out, n, b);
    }
    return out.subarray(0, n);
  }

  /** Input was sent to the guest (typed or piped). */
  inputSent(): void {
    this.unanswered = true;
  }

  /** The bytes held back at the end of the output so far (the output ended mid-way through a possible query). */
  flush(): Uint8Array {
    const held = new Uint8Array(CURSOR_QUERY.slice(0, this.matched));
    this.matched = 0;
    for (const b of held) this.track(b);
    return held;
  }

  private put(out: Uint8Array, n: number, b: number): number {
    out[n] = b;
    this.track(b);
    return n + 1;
  }

  /** Follows the cursor's column over one output byte. */
  private track(b: number): void {
    if (this.csi) {
      if (b >= 0x40 && b <= 0x7e) this.csi = false;
    } else if (this.escape) {
      this.escape = false;
      this.csi = b === 0x5b;
    } else if (b === 0x1b) this.escape = true;
    else if (b === 0x0d) this.column = 1;
    else if (b === 0x0a) {
      this.column = 1;
      this.unanswered = false;
    }
    else if (b === 0x08) this.column = Math.max(1, this.column - 1);
    else if (b === 0x09) this.column = Math.min(MAX_COLUMN, (Math.floor((this.column - 1) / 8) + 1) * 8 + 1);
    else if (b >= 0x20 && b !== 0x7f && (b & 0xc0) !== 0x80) this.column = Math.min(MAX_COLUMN, this.column + 1);
  }
}
