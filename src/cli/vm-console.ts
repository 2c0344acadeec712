/**
 * `virtkit vm console NAME [--watch]`: the VM's serial console over the daemon's WebSocket
 * (GET /v1/vms/NAME/console?mode=type|watch, binary frames of raw console bytes).
 *
 * - On a terminal, stdin is put in raw mode (every key goes to the guest) and Ctrl-] detaches,
 *   restoring the terminal; the VM keeps running. In --watch mode keys are not sent, and Ctrl-]
 *   or Ctrl-C detach.
 * - Piped stdin is typed a line at a time at the guest's shell prompt (PipedInput, as for
 *   `virtkit run`), up to its end or a Ctrl-] byte; once the last line is answered with a prompt
 *   the client detaches, so `printf 'uname -r\n' | virtkit vm console NAME` prints the answer and
 *   ends. The pipe is paused while more than PIPED_INPUT_HIGH bytes of it wait (InputGate). A
 *   console that stays silent after attaching (a VM restored from a snapshot has printed nothing
 *   since its process started) gets one Enter, so its shell shows the prompt the input waits for.
 * - When stdout is not a terminal, the guest's cursor-position queries (ESC[6n) are removed from
 *   the output but not answered: the console replays old output on connect, and answers to old
 *   queries would be typed into the shell.
 * - Guest output is written as it comes; while stdout is behind, the WebSocket is paused.
 */
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { CliError } from './errors.ts';
import { CursorQueries, InputGate, PipedInput } from '../host/node/console.ts';
import type { VmApi } from '../manager/client/vms.ts';
import { apiError } from '../manager/client/http.ts';
import { DaemonUnreachable } from '../manager/client/errors.ts';

/** The detach key, as telnet and `virsh console`: Ctrl-] (GS). */
export const DETACH = 0x1d;
const CTRL_C = 0x03;
/** Silence after attaching before piped input presses Enter to get a prompt. */
const NUDGE_MS = 1500;
/** The daemon's close code for a second typist (docs/manager.md). */
export const CLOSE_TYPIST_TAKEN = 4409;

/** The WebSocket address and options for a console path on the endpoint. */
function socketTarget(api: VmApi, path: string): { url: string; options: WebSocket.ClientOptions } {
  const e = api.client.endpoint;
  if (e.kind === 'unix') return { url: `ws+unix://${e.socketPath}:${path}`, options: {} };
  const headers: Record<string, string> = {};
  if (e.token !== undefined) headers.authorization = `Bearer ${e.token}`;
  return { url: `ws://${e.url.host}${path}`, options: { headers } };
}

/**
 * An open console. The messages and close that arrive before the caller listens (the replay
 * often comes in the same read as the handshake's answer) are held in `early`.
 */
interface Opened {
  ws: WebSocket;
  early: { messages: WebSocket.RawData[]; close?: [number, Buffer]; stop(): void };
}

/** Opens the console's WebSocket; rejects with the API's error, or DaemonUnreachable. */
function open(api: VmApi, name: string, mode: 'type' | 'watch'): Promise<Opened> {
  const { url, options } = socketTarget(api, api.consolePath(name, mode));
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...options, maxPayload: 1 << 20 });
    ws.binaryType = 'nodebuffer';
    const early: Opened['early'] = {
      messages: [],
      stop() {
        ws.off('message', onMessage);
        ws.off('close', onClose);
      },
    };
    const onMessage = (d: WebSocket.RawData) => early.messages.push(d);
    const onClose = (code: number, reason: Buffer) => (early.close = [code, reason]);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.once('open', () => resolve({ ws, early }));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if ((size += c.length) <= 64 * 1024) chunks.push(c);
      });
      res.on('end', () => reject(apiError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
      res.on('error', () => reject(apiError(res.statusCode ?? 0, '')));
    });
    ws.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
        reject(new DaemonUnreachable(api.client.where, e.code === 'ENOENT' ? 'no such socket' : 'connection refused'));
      else reject(new CliError(`console of ${name}: ${e.message}`));
    });
  });
}

export async function attachConsole(
  api: VmApi,
  name: string,
  watchOnly: boolean,
  stdin: NodeJS.ReadStream = process.stdin,
  stdout: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const { ws, early } = await open(api, name, watchOnly ? 'watch' : 'type');
  const tty = stdin.isTTY === true;
  const queries = stdout.isTTY ? undefined : new CursorQueries(() => {});
  const note = (text: string) => {
    if (tty) process.stderr.write(`${text}\r\n`);
  };

  return new Promise<number>((resolve, reject) => {
    let finished = false;
    const send = (bytes: Uint8Array) => {
      if (bytes.length === 0 || ws.readyState !== WebSocket.OPEN) return;
      queries?.inputSent();
      ws.send(bytes);
    };

    // Piped input: typed at prompts; detach once it is all typed and answered.
    const piped = !tty && !watchOnly ? new PipedInput(send) : undefined;
    const gate = piped
      ? new InputGate(() => piped.pendingBytes, { pauseInput: () => stdin.pause(), resumeInput: () => stdin.resume() })
      : undefined;
    let pipeEnded = false;
    const endPipe = () => {
      if (!piped || pipeEnded) return;
      pipeEnded = true;
      stdin.off('data', onData);
      piped.end();
      if (piped.done) finish(0, 'detached');
    };

    const onData = (chunk: Buffer) => {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
      const at = bytes.indexOf(DETACH);
      const ctrlC = watchOnly && tty ? bytes.indexOf(CTRL_C) : -1;
      if (piped) {
        piped.push(at < 0 ? bytes : bytes.subarray(0, at));
        gate!.update();
        if (at >= 0) endPipe();
        return;
      }
      if (at >= 0 || ctrlC >= 0) {
        if (!watchOnly) send(bytes.subarray(0, at));
        finish(0, 'detached');
        return;
      }
      if (!watchOnly) send(bytes);
    };

    // A VM that has printed nothing since its process started (restored from a snapshot, it
    // sits silently at its prompt) gives piped input no prompt to wait for: after NUDGE_MS of
    // silence, Enter is pressed once, as a user facing a blank console would.
    let heard = false;
    const nudge = piped
      ? setTimeout(() => {
          if (!heard && !finished) ws.send(Buffer.from('\r'));
        }, NUDGE_MS)
      : undefined;

    const onMessage = (data: WebSocket.RawData) => {
      heard = true;
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      const raw = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
      const out = queries ? queries.filter(raw) : raw;
      if (out.length && !stdout.write(out)) {
        // The reader is behind: stop reading the WebSocket until it catches up.
        ws.pause();
        stdout.once('drain', () => ws.resume());
      }
      if (piped) {
        piped.output(raw);
        gate!.update();
        if (pipeEnded && piped.done) finish(0, 'detached');
      }
    };

    const onClose = (code: number, reason: Buffer) => {
      if (finished) return;
      const why = reason.toString('utf8');
      if (code === CLOSE_TYPIST_TAKEN)
        fail(new CliError(`another client is typing on ${name}'s console (watch it with --watch)`, 1));
      else if (code === 1000 || code === 1001) finish(0, why || `${name}'s console closed`);
      else if (code === 1006) fail(new CliError(`the connection to the daemon was lost (${name} keeps running)`, 1));
      else fail(new CliError(why || `${name}'s console closed (WebSocket code ${code})`, 1));
    };
    const onError = (e: Error) => fail(new CliError(`console of ${name}: ${e.message}`, 1));
    const onSignal = () => finish(0, 'detached');
    const onStdinError = () => endPipe();

    function cleanup(): void {
      finished = true;
      clearTimeout(nudge);
      stdin.off('data', onData);
      stdin.off('end', endPipe);
      stdin.off('error', onStdinError);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      if (queries) stdout.write(queries.flush());
      ws.off('message', onMessage);
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        ws.close(1000);
        // A daemon that never answers the close handshake must not keep this process alive.
        setTimeout(() => ws.terminate(), 2000).unref();
      }
    }
    function finish(code: number, why: string): void {
      if (finished) return;
      cleanup();
      note(`\r\n[virtkit: ${why}]`);
      resolve(code);
    }
    function fail(e: Error): void {
      if (finished) return;
      cleanup();
      reject(e);
    }

    early.stop();
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    if (tty) {
      stdin.setRawMode(true);
      note(`[virtkit: ${name}'s console${watchOnly ? ', watching' : ''}; Ctrl-] detaches]`);
    }
    if (tty || piped) {
      stdin.on('data', onData);
      stdin.on('end', endPipe);
      stdin.on('error', onStdinError);
      stdin.resume();
    }
    for (const m of early.messages) onMessage(m);
    if (early.close) onClose(...early.close);
  });
}
