/**
 * A server-sent-events parser (the WHATWG event-stream format): `event:` and `data:` lines, an
 * empty line dispatches. A line longer than MAX_LINE is refused, so a stream without newlines
 * cannot grow the buffer without bound.
 */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export const MAX_LINE = 1024 * 1024;

export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  constructor(private readonly onEvent: (e: SseEvent) => void) {}

  push(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      // A CR at the end may be the first half of a CRLF split across chunks: wait for more.
      if (this.buffer[nl] === '\r' && nl === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, nl);
      const sep = this.buffer[nl] === '\r' && this.buffer[nl + 1] === '\n' ? 2 : 1;
      this.buffer = this.buffer.slice(nl + sep);
      this.line(line);
    }
    if (this.buffer.length > MAX_LINE) throw new Error(`event stream line longer than ${MAX_LINE} bytes`);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length)
        this.onEvent({
          event: this.event || 'message',
          data: this.data.join('\n'),
          ...(this.id !== undefined ? { id: this.id } : {}),
        });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}
