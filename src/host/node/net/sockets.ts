/**
 * UserNetHost on Node.js: TCP through node:net, UDP through node:dgram, names through the host
 * resolver (dns.lookup, i.e. getaddrinfo, so /etc/hosts and the system configuration apply),
 * timers through setTimeout. Also the listeners behind port forwarding (hostfwd).
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import type { HostTcpHandlers, HostTcpSocket, HostUdpSocket, UserNetHost } from '../../../net/user/host.ts';
import type { NetTimers } from '../../../net/types.ts';
import type { UserNet } from '../../../net/user/user-net.ts';
import { describeError } from '../errno-words.ts';

export const nodeTimers: NetTimers = {
  now: () => performance.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Wires a node socket's events to the NAT's handlers. */
export function wrapSocket(s: Socket, h: HostTcpHandlers): HostTcpSocket {
  let closed = false;
  s.setNoDelay(true);
  s.on('connect', () => h.onConnect());
  s.on('data', (d: Buffer) => h.onData(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  s.on('end', () => h.onEnd());
  s.on('drain', () => h.onDrain());
  s.on('error', () => {}); // 'close' follows with hadError
  s.on('close', (hadError: boolean) => {
    if (closed) return;
    closed = true;
    h.onClose(hadError ? 'connection error' : undefined);
  });
  return {
    write: (data) => {
      if (!s.destroyed) s.write(data);
    },
    get bufferedBytes() {
      return s.writableLength;
    },
    end: () => {
      if (!s.destroyed) s.end();
    },
    destroy: () => {
      closed = true;
      if (!s.destroyed) s.resetAndDestroy();
    },
    pause: () => s.pause(),
    resume: () => s.resume(),
  };
}

export class NodeUserNetHost implements UserNetHost {
  readonly timers = nodeTimers;

  tcpConnect(ip: string, port: number, h: HostTcpHandlers): HostTcpSocket {
    const s = createConnection({ host: ip, port, allowHalfOpen: true });
    return wrapSocket(s, h);
  }

  udpOpen(onMessage: (data: Uint8Array, ip: string, port: number) => void): HostUdpSocket {
    const s = createSocket('udp4');
    let closed = false;
    s.on('message', (m, r) => onMessage(new Uint8Array(m.buffer, m.byteOffset, m.length), r.address, r.port));
    s.on('error', () => {});
    return {
      send: (data, ip, port) => {
        if (!closed) s.send(data, port, ip, () => {});
      },
      close: () => {
        if (closed) return;
        closed = true;
        s.close();
      },
    };
  }

  async resolve(name: string): Promise<string[]> {
    try {
      const r = await lookup(name, { family: 4, all: true });
      return r.map((a) => a.address);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EAI_NONAME') return [];
      throw e;
    }
  }
}

/** A bound forwarded port (port: the actual host port, useful when 0 was asked for). */
export interface ForwardListener {
  port: number;
  close(): void;
}

export interface HostForward {
  proto: 'tcp' | 'udp';
  hostAddr: string;
  hostPort: number;
  guestPort: number;
}

/** Listens on every forwarded host port; rejects (closing what it opened) if one cannot be bound. */
export async function listenForwards(net: UserNet, rules: HostForward[]): Promise<ForwardListener[]> {
  const servers: ForwardListener[] = [];
  const fail = (r: HostForward, e: NodeJS.ErrnoException) =>
    new Error(
      `hostfwd ${r.proto === 'udp' ? 'udp:' : ''}${r.hostAddr}:${r.hostPort}: ${e.code === 'EADDRINUSE' ? 'port already in use (by another program or another forward)' : describeError(e)}`,
    );
  try {
    for (const r of rules) {
      if (r.proto === 'udp') {
        const s = createSocket('udp4');
        await new Promise<void>((resolve, reject) => {
          s.once('error', (e: NodeJS.ErrnoException) => reject(fail(r, e)));
          s.bind(r.hostPort, r.hostAddr, () => resolve());
        });
        s.on('error', () => {});
        s.on('message', (m, from) =>
          net.forwardUdp(`${from.address}:${from.port}`, r.guestPort, new Uint8Array(m), (d) =>
            s.send(d, from.port, from.address, () => {}),
          ),
        );
        servers.push({ port: s.address().port, close: () => s.close() });
        continue;
      }
      const srv = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => {
        sock.on('error', () => {});
        if (!net.forwardTcp(r.guestPort, (h) => wrapSocket(sock, h))) sock.destroy();
      });
      await new Promise<void>((resolve, reject) => {
        srv.once('error', (e: NodeJS.ErrnoException) => reject(fail(r, e)));
        srv.listen(r.hostPort, r.hostAddr, () => resolve());
      });
      srv.on('error', () => {});
      servers.push({ port: (srv.address() as AddressInfo).port, close: () => srv.close() });
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  return servers;
}
