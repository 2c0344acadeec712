/**
 * The serial console over WebSocket. Each viewer gets its own connection to the VM's
 * console.sock (the VM process replays its last 64 KiB to every client, then live output), so a
 * slow viewer never holds up another. Many may watch; one may type (`?mode=type`): a second
 * typist is closed with 4409, and bytes from watchers are dropped. Bounds: a viewer that leaves
 * more than VIEWER_BUFFER_MAX bytes unread is dropped (close 1008), and a typist whose input the
 * VM is not taking (more than INPUT_BUFFER_MAX waiting) is too.
 */
import { connect, type Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { VmRow } from './db.ts';
import type { Manager } from './manager.ts';
import { vmFiles } from './vm-def.ts';

export const VIEWER_BUFFER_MAX = 1 << 20;
export const INPUT_BUFFER_MAX = 1 << 20;
/** Close codes: 4409 the VM already has a typist; 4404 its console is not there. */
export const CLOSE_TYPIST_TAKEN = 4409;
export const CLOSE_NO_CONSOLE = 4404;

const typists = new Map<string, WebSocket>();

export function attachConsole(mgr: Manager, vm: VmRow, ws: WebSocket, mode: 'watch' | 'type'): void {
  if (mode === 'type') {
    const holder = typists.get(vm.id);
    if (holder && holder.readyState === holder.OPEN) {
      ws.close(CLOSE_TYPIST_TAKEN, `VM '${vm.name}' already has a typist; watch with ?mode=watch`);
      return;
    }
    typists.set(vm.id, ws);
  }
  const release = () => {
    if (typists.get(vm.id) === ws) typists.delete(vm.id);
  };
  const sock: Socket = connect(vmFiles(mgr.dir.vmDir(vm.id)).console);
  const end = (code: number, why: string) => {
    release();
    sock.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, why.slice(0, 120));
  };
  sock.on('error', (e) => end(CLOSE_NO_CONSOLE, `console of '${vm.name}' unavailable: ${e.message}`));
  sock.on('close', () => end(1000, `the console of '${vm.name}' closed (the VM stopped)`));
  sock.on('data', (chunk: Buffer) => {
    if (ws.bufferedAmount > VIEWER_BUFFER_MAX) {
      end(1008, 'viewer too slow: output dropped');
      return;
    }
    ws.send(chunk, { binary: true });
  });
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    if (mode !== 'type' || sock.destroyed) return;
    if (sock.writableLength > INPUT_BUFFER_MAX) {
      end(1008, 'the VM is not taking console input');
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    sock.write(buf);
  });
  ws.on('close', () => {
    release();
    sock.destroy();
  });
  ws.on('error', () => end(1011, 'websocket error'));
}
