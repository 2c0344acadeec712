/**
 * Splits a QMP byte stream into JSON values, as QEMU's streaming JSON parser does: values may
 * span reads, share a read, and need no newline between them (`{"a":1}{"b":2}` is two values).
 *
 * Every resource a client drives is bounded: one value may hold at most `maxValue` characters
 * and nest at most `maxDepth` levels. Past either bound the stream reports a fatal error and
 * takes nothing more (the host closes the connection): a client sending 100 MB without ever
 * closing its object costs at most `maxValue` characters of memory, never the whole flood.
 * Whitespace between values is skipped without being kept.
 *
 * Only the extent of each value is found here (strings, escapes and brackets are tracked);
 * the text of a complete value is then parsed by JSON.parse, whose error becomes a non-fatal
 * "JSON parse error, ..." item, so a malformed line is answered and the next one still works.
 */

/** QMP commands are small: 1 MiB is far above any of them and still cheap to hold per client. */
export const MAX_QMP_VALUE = 1024 * 1024;
/** QEMU allows 1024 levels; QMP arguments need a handful. */
export const MAX_QMP_DEPTH = 64;

export type StreamItem = { value: unknown } | { error: string; fatal: boolean };

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
/** Characters that end a top-level keyword or number (`true`, `12`, `garbage`). */
const isDelimiter = (c: number) =>
  isSpace(c) || c === 0x7b || c === 0x7d || c === 0x5b || c === 0x5d || c === 0x22 || c === 0x2c || c === 0x3a;

export class JsonStream {
  private readonly decoder = new TextDecoder('utf-8');
  /** What is being read: nothing, an object/array, a string, or a bare keyword or number. */
  private mode: 'idle' | 'compound' | 'string' | 'scalar' = 'idle';
  /** The current value's text from earlier reads. */
  private held = '';
  private heldLength = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private dead = false;

  constructor(
    private readonly maxValue = MAX_QMP_VALUE,
    private readonly maxDepth = MAX_QMP_DEPTH,
  ) {}

  /** Whether a value is under way (a getter: finish() changes the mode behind the switch's back). */
  private get reading(): boolean {
    return this.mode !== 'idle';
  }

  /** Whether a fatal error ended the stream (everything fed since is ignored). */
  get failed(): boolean {
    return this.dead;
  }

  /** Feeds bytes; returns the values (and errors) completed by them, in order. */
  feed(bytes: Uint8Array): StreamItem[] {
    if (this.dead) return [];
    return this.scan(this.decoder.decode(bytes, { stream: true }));
  }

  /** Feeds text (tests; hosts that already decoded). */
  scan(text: string): StreamItem[] {
    const out: StreamItem[] = [];
    if (this.dead) return out;
    let start = 0; // where the current value begins in `text` (when not idle)
    const fail = (error: string) => {
      this.dead = true;
      this.held = '';
      out.push({ error, fatal: true });
      return out;
    };
    const finish = (end: number) => {
      const body = this.held + text.slice(start, end);
      this.held = '';
      this.heldLength = 0;
      this.mode = 'idle';
      try {
        out.push({ value: JSON.parse(body) as unknown });
      } catch (e) {
        out.push({ error: `JSON parse error, ${e instanceof Error ? e.message : String(e)}`, fatal: false });
      }
    };
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      switch (this.mode) {
        case 'idle':
          if (isSpace(c)) continue;
          start = i;
          if (c === 0x7b || c === 0x5b) {
            this.mode = 'compound';
            this.depth = 1;
            this.inString = false;
          } else if (c === 0x22) {
            this.mode = 'string';
            this.escaped = false;
          } else if (c === 0x7d || c === 0x5d || c === 0x2c || c === 0x3a) {
            out.push({ error: `JSON parse error, unexpected '${text[i]}'`, fatal: false });
          } else {
            this.mode = 'scalar';
          }
          continue;
        case 'scalar':
          if (isDelimiter(c)) {
            finish(i);
            i--; // the delimiter may begin the next value
          }
          break;
        case 'string':
          if (this.escaped) this.escaped = false;
          else if (c === 0x5c) this.escaped = true;
          else if (c === 0x22) finish(i + 1);
          break;
        case 'compound':
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (c === 0x5c) this.escaped = true;
            else if (c === 0x22) this.inString = false;
          } else if (c === 0x22) {
            this.inString = true;
            this.escaped = false;
          } else if (c === 0x7b || c === 0x5b) {
            if (++this.depth > this.maxDepth) return fail('JSON nesting depth limit exceeded');
          } else if (c === 0x7d || c === 0x5d) {
            if (--this.depth === 0) finish(i + 1);
          }
          break;
      }
      if (this.reading && this.heldLength + (i + 1 - start) > this.maxValue)
        return fail(`JSON value size limit exceeded (${this.maxValue} characters)`);
    }
    if (this.reading) {
      this.held += text.slice(start);
      this.heldLength += text.length - start;
    }
    return out;
  }
}
