/**
 * What the user-mode network needs from the host, as small interfaces: TCP connections, UDP
 * sockets, a name resolver and timers. src/host/node/net/ implements them with node:net,
 * node:dgram and node:dns; tests implement them in memory.
 */
import type { NetTimers } from '../types.ts';

/** Events from a host TCP socket to the NAT. */
export interface HostTcpHandlers {
  /** The connection is established (outbound connects only). */
  onConnect(): void;
  /** Bytes from the remote end (the view may be kept). */
  onData(data: Uint8Array): void;
  /** The remote end sent FIN. */
  onEnd(): void;
  /** The host socket's send buffer drained (after write() reported it full). */
  onDrain(): void;
  /** The socket is gone: closed, reset or failed to connect (error says why). No events follow. */
  onClose(error?: string): void;
}

export interface HostTcpSocket {
  /** Queues bytes to the remote end (the data is copied or kept, never reused by the NAT). */
  write(data: Uint8Array): void;
  /** Bytes accepted by write() that the host has not handed to the OS yet. */
  readonly bufferedBytes: number;
  /** Sends FIN after the queued bytes. */
  end(): void;
  /** Aborts the connection (RST where the host can). No further events. */
  destroy(): void;
  /** Stops/starts onData events (flow control towards the guest). */
  pause(): void;
  resume(): void;
}

export interface HostUdpSocket {
  send(data: Uint8Array, ip: string, port: number): void;
  close(): void;
}

export interface UserNetHost {
  readonly timers: NetTimers;
  /** Opens a TCP connection to ip:port; events arrive through h. */
  tcpConnect(ip: string, port: number, h: HostTcpHandlers): HostTcpSocket;
  /** Opens an unconnected UDP socket bound to an ephemeral port; datagrams arrive through onMessage. */
  udpOpen(onMessage: (data: Uint8Array, ip: string, port: number) => void): HostUdpSocket;
  /** IPv4 addresses for a name (the host resolver, as getaddrinfo sees it); empty if none. Rejects on failure. */
  resolve(name: string): Promise<string[]>;
}
