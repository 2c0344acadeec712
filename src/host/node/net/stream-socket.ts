/**
 * A LAN shared by several processes over a local stream socket (a unix socket path), framed as
 * QEMU's `-netdev stream` does (32-bit big-endian length, then the frame).
 *
 * - listen=PATH: this process hosts a learning switch; its own NIC and every connection that
 *   arrives on PATH are ports of that switch.
 * - connect=PATH: this NIC's frames go to the process listening on PATH (a virtkit hub, or
 *   QEMU's `-netdev stream,server=on,addr.type=unix`).
 * - path=PATH: connect if someone is listening there, otherwise become the hub; so any number
 *   of `virtkit run --net socket,path=/tmp/lan` processes share one LAN.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import type { NetBackend } from '../../../net/types.ts';
import { EthernetSwitch, SWITCH_MAX_FRAME, type SwitchPort } from '../../../net/switch.ts';
import { FrameReader, frameRecord } from '../../../net/stream-framing.ts';
import { nodeTimers } from './sockets.ts';

/** Bytes queued towards a slow peer before frames are dropped (a full link loses frames). */
const MAX_QUEUED = 1024 * 1024;

/** Pipes frames between a stream socket and a frame sink; returns the function that sends a frame. */
function attachStream(s: Socket, onFrame: (f: Uint8Array) => void): (f: Uint8Array) => void {
  const reader = new FrameReader(onFrame, SWITCH_MAX_FRAME);
  s.on('data', (d: Buffer) => {
    try {
      reader.push(new Uint8Array(d.buffer, d.byteOffset, d.length));
    } catch {
      s.destroy(); // not our framing: drop the peer
    }
  });
  s.on('error', () => {});
  return (f) => {
    if (!s.destroyed && s.writableLength < MAX_QUEUED) s.write(frameRecord(f));
  };
}

export class StreamClient implements NetBackend {
  private deliver: ((f: Uint8Array) => void) | undefined;
  private readonly send: (f: Uint8Array) => void;

  private constructor(private readonly sock: Socket) {
    this.send = attachStream(sock, (f) => this.deliver?.(f));
  }

  static connect(path: string): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ path });
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new StreamClient(s));
      });
    });
  }

  transmit(frame: Uint8Array): void {
    this.send(frame);
  }

  connect(deliver: (f: Uint8Array) => void): void {
    this.deliver = deliver;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** The listening side: a switch whose ports are the local NIC and each connected process. */
export class StreamHub {
  readonly sw = new EthernetSwitch(nodeTimers);
  private readonly conns = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {
    server.on('connection', (s) => {
      const port: SwitchPort = this.sw.port(`stream${this.conns.size}`);
      this.conns.add(s);
      const send = attachStream(s, (f) => port.transmit(f));
      port.connect(send);
      s.on('close', () => {
        this.conns.delete(s);
        port.close();
      });
    });
  }

  static async listen(path: string): Promise<StreamHub> {
    const tryListen = () =>
      new Promise<Server>((resolve, reject) => {
        const srv = createServer();
        srv.once('error', reject);
        srv.listen(path, () => {
          srv.off('error', reject);
          srv.on('error', () => {});
          resolve(srv);
        });
      });
    try {
      return new StreamHub(await tryListen(), path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      // A socket file exists: in use if someone answers, stale (left by a crash) otherwise.
      if (await isListening(path)) throw new Error(`${path} is already in use by another process`);
      await unlink(path);
      return new StreamHub(await tryListen(), path);
    }
  }

  /** The local NIC's port. */
  port(): NetBackend {
    return this.sw.port('local');
  }

  close(): void {
    for (const c of this.conns) c.destroy();
    this.server.close();
    void unlink(this.path).catch(() => {});
  }
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
