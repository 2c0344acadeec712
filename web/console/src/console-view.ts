/**
 * A VM's serial console in xterm.js over the API's WebSocket. The token travels as the
 * `virtkit.bearer.TOKEN` subprotocol (a browser cannot set Authorization on a WebSocket; see
 * src/manager/web-console.ts). The page asks to type; when someone else already types (close
 * 4409) it watches instead. The terminal follows its box's size; the guest is not told, since a
 * serial console has no size to tell.
 */
import { Terminal } from '@xterm/xterm';
import { fitTerminal } from '../../../src/host/browser/terminal-fit.ts';

const CLOSE_TYPIST_TAKEN = 4409;
const SCROLLBAR_PX = 14;

export class ConsoleView {
  readonly term: Terminal;
  private ws: WebSocket | undefined;
  private mode: 'type' | 'watch' = 'type';
  private readonly resizeObserver: ResizeObserver;
  private disposed = false;
  /** The VM runs in this tab (tab-vm.ts): keystrokes go here, not to a WebSocket. */
  private local: ((bytes: Uint8Array) => void) | undefined;
  /** The next connection keeps the screen: the VM came back from this tab, its new process has printed nothing. */
  private keepScreen = false;

  constructor(
    private readonly box: HTMLElement,
    private readonly status: HTMLElement,
    private readonly vm: string,
    private readonly token: string,
  ) {
    this.term = new Terminal({ scrollback: 5000, fontSize: 14, cols: 80, rows: 24 });
    this.term.open(box);
    this.term.onData((d) => {
      if (this.local) this.local(new TextEncoder().encode(d));
      else if (this.ws?.readyState === WebSocket.OPEN && this.mode === 'type')
        this.ws.send(new TextEncoder().encode(d));
    });
    let queued = false;
    this.resizeObserver = new ResizeObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        this.fit();
      });
    });
    this.resizeObserver.observe(box);
  }

  get connected(): boolean {
    return this.ws !== undefined && this.ws.readyState <= WebSocket.OPEN;
  }

  /** Opens the WebSocket (the VM must be running or paused). The replayed output starts a clean screen. */
  connect(): void {
    if (this.disposed || this.connected || this.local) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/vms/${encodeURIComponent(this.vm)}/console?mode=${this.mode}`;
    const ws = new WebSocket(url, ['virtkit.console', `virtkit.bearer.${this.token}`]);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.setStatus('connecting…');
    ws.onopen = () => {
      if (!this.keepScreen) this.term.reset();
      this.keepScreen = false;
      this.setStatus(this.mode === 'type' ? 'connected: typing' : 'connected: watching (another client types)');
      if (this.mode === 'type') this.term.focus();
    };
    ws.onmessage = (m) => this.term.write(new Uint8Array(m.data as ArrayBuffer));
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (e.code === CLOSE_TYPIST_TAKEN && this.mode === 'type') {
        this.mode = 'watch';
        this.connect();
        return;
      }
      this.setStatus(
        e.code === 1000
          ? 'closed: the VM stopped'
          : `closed (${e.code}${e.reason ? `: ${e.reason}` : ''}); it reconnects when the VM runs`,
      );
    };
  }

  /** Drops the connection (the VM stopped) and forgets a typist refusal for the next run. */
  disconnect(): void {
    const ws = this.ws;
    this.ws = undefined;
    ws?.close();
    this.mode = 'type';
  }

  /** The VM now runs in this tab: typing goes to `sink`, its output comes through writeLocal(). */
  attachLocal(sink: (bytes: Uint8Array) => void): void {
    this.disconnect();
    this.local = sink;
    this.setStatus('in this tab: typing');
    this.term.focus();
  }

  /** Output of the VM in this tab; `done` once xterm has shown it (the worker's flow control). */
  writeLocal(bytes: Uint8Array, done?: () => void): void {
    this.term.write(bytes, done);
  }

  /**
   * The VM left this tab: `keep` (it was sent back: its new process has printed nothing) makes
   * the next connection continue on the same screen instead of starting a clean one.
   */
  detachLocal(status: string, keep: boolean): void {
    this.local = undefined;
    this.keepScreen = keep;
    if (!this.connected) this.setStatus(status);
  }

  get isLocal(): boolean {
    return this.local !== undefined;
  }

  dispose(): void {
    this.disposed = true;
    this.disconnect();
    this.resizeObserver.disconnect();
    this.term.dispose();
  }

  /** The terminal's text (for tests and copy). */
  text(): string {
    const b = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n').replace(/\n+$/, '');
  }

  private setStatus(s: string): void {
    this.status.textContent = s;
  }

  private fit(): void {
    const screen = this.term.element?.querySelector<HTMLElement>('.xterm-screen');
    if (!screen) return;
    const cell = screen.getBoundingClientRect();
    const css = getComputedStyle(this.box);
    const px = (v: string) => parseFloat(v) || 0;
    const size = fitTerminal({
      width: this.box.clientWidth - px(css.paddingLeft) - px(css.paddingRight),
      height: this.box.clientHeight - px(css.paddingTop) - px(css.paddingBottom),
      cellWidth: cell.width / this.term.cols,
      cellHeight: cell.height / this.term.rows,
      reserveWidth: SCROLLBAR_PX,
    });
    if (size && (size.cols !== this.term.cols || size.rows !== this.term.rows)) this.term.resize(size.cols, size.rows);
  }
}
