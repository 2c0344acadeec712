/**
 * QMP on a unix socket (`virtkit run --qmp unix:PATH`): each connection is a QmpConnection of
 * one QmpMonitor (src/vmm/qmp/). QEMU's `server=on,wait=off`: the VM does not wait for a client.
 * A client that does not read its answers and events is dropped past MAX_QMP_QUEUED bytes; one
 * that sends an oversized value is answered and cut off (the monitor's JsonStream bound).
 */
import type { QmpConnection, QmpMonitor } from '../../vmm/qmp/monitor.ts';
import { UnixServer, type UnixClient } from './unix-server.ts';

/** Unread answers and events per client before it is dropped (events are ~100 bytes each). */
export const MAX_QMP_QUEUED = 1024 * 1024;

export class QmpServer {
  private readonly conns = new Map<UnixClient, QmpConnection>();

  private constructor(private server: UnixServer | undefined) {}

  static async listen(path: string, monitor: QmpMonitor, maxQueued = MAX_QMP_QUEUED): Promise<QmpServer> {
    const q = new QmpServer(undefined);
    q.server = await UnixServer.listen(
      path,
      {
        connected: (c) => {
          q.conns.set(
            c,
            monitor.connect({
              send: (text) => void c.send(text),
              close: () => c.end(),
              pauseInput: () => c.pause(),
              resumeInput: () => c.resume(),
            }),
          );
        },
        data: (c, bytes) => q.conns.get(c)?.feed(bytes),
        gone: (c) => {
          q.conns.get(c)?.disconnect();
          q.conns.delete(c);
        },
      },
      maxQueued,
    );
    return q;
  }

  get clientCount(): number {
    return this.conns.size;
  }

  /** Ends every client after its queued answers (quit's answer) and removes the socket. */
  close(): Promise<void> {
    return this.server!.close();
  }
}
