/**
 * The VmHost for a Web Worker: yields through a MessageChannel (setTimeout(0) is clamped to
 * 4 ms after a few nested calls, which would cost a VM most of its time) and sleeps with
 * setTimeout. Nothing here touches the DOM, so it also runs (and is tested) under Node.
 */
import type { VmHost } from '../../vmm/vm.ts';

interface Port {
  onmessage: ((ev: unknown) => void) | null;
  postMessage(msg: unknown): void;
  close(): void;
}

export interface WorkerVmHost extends VmHost {
  /** Closes the channel; later yields are dropped. */
  close(): void;
}

export function createWorkerHost(): WorkerVmHost {
  const Channel = (globalThis as unknown as { MessageChannel: new () => { port1: Port; port2: Port } }).MessageChannel;
  const channel = new Channel();
  // A FIFO of callbacks: one message per yield keeps ordering and lets timers interleave.
  const queue: (() => void)[] = [];
  let closed = false;
  channel.port1.onmessage = () => {
    const fn = queue.shift();
    if (fn) fn();
  };
  return {
    nowMs: () => performance.now(),
    yieldTo(fn) {
      if (closed) return;
      queue.push(fn);
      channel.port2.postMessage(0);
    },
    sleep(fn, ms) {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    },
    close() {
      closed = true;
      queue.length = 0;
      channel.port1.close();
      channel.port2.close();
    },
  };
}
