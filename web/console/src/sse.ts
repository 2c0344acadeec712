/**
 * Server-sent events read from a fetch() body. EventSource cannot send an Authorization header,
 * so the console reads GET /v1/events with fetch and parses the stream itself. No DOM types: the
 * parser is tested under Node.
 */

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** An incremental parser: feed it text as it arrives, it returns the complete messages. */
export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  push(text: string): SseMessage[] {
    this.buf += text;
    const out: SseMessage[] = [];
    let nl: number;
    while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, nl);
      // A lone \r at the end of the buffer may be the first half of \r\n: wait for more.
      if (this.buf[nl] === '\r' && nl === this.buf.length - 1) break;
      this.buf = this.buf.slice(nl + (this.buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.data.length)
          out.push({ event: this.event || 'message', data: this.data.join('\n'), ...(this.id ? { id: this.id } : {}) });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue; // a comment (the server's keep-alive ping)
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'id') this.id = value;
    }
    return out;
  }
}

/** A lifecycle event as GET /v1/events and GET /v1/vms/{name}/events give it (docs/manager.md). */
export interface VmEvent {
  id: number;
  vm: string;
  state: string;
  previous: string | null;
  reason: string | null;
  time: string;
}
