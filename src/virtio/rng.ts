/**
 * virtio-rng (device ID 4, virtio 1.x section 5.4): one request queue whose writable buffers are
 * filled from an entropy source. Each request is capped so a hostile guest cannot make one
 * notification do unbounded work; the driver simply asks again.
 */
import { StateReader } from '../memory/state.ts';
import type { VirtioDeviceModel, VirtioMmio } from './mmio.ts';
import { DescChain } from './virtqueue.ts';

export const VIRTIO_ID_RNG = 4;
/** Most bytes delivered per request. */
export const RNG_MAX_REQUEST = 64 * 1024;

/** Fills the array with random bytes (like crypto.getRandomValues; at most 65536 bytes per call). */
export type EntropySource = (buf: Uint8Array) => void;

interface CryptoLike {
  getRandomValues(buf: Uint8Array): Uint8Array;
}

function defaultEntropy(): EntropySource {
  const c = (globalThis as { crypto?: CryptoLike }).crypto;
  if (!c) throw new Error('virtio-rng: globalThis.crypto.getRandomValues is not available; pass an entropy source');
  return (buf) => c.getRandomValues(buf);
}

export class VirtioRng implements VirtioDeviceModel {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly queueSizes: readonly number[];
  readonly features: readonly [number, number] = [0, 0];
  readonly config = new Uint8Array(0);
  private transport!: VirtioMmio;
  private readonly chain = new DescChain();
  /** Entropy is generated here and copied, since getRandomValues rejects views of shared memory. */
  private readonly scratch = new Uint8Array(4096);
  private readonly entropy: EntropySource;

  constructor(entropy?: EntropySource, queueSize = 64) {
    this.entropy = entropy ?? defaultEntropy();
    this.queueSizes = [queueSize];
  }

  attach(transport: VirtioMmio): void {
    this.transport = transport;
  }

  reset(): void {}

  queueNotify(index: number): void {
    if (index !== 0) return;
    const q = this.transport.queues[0]!;
    const ram = this.transport.mem.ram;
    let pushed = false;
    while (q.pop(this.chain)) {
      const want = Math.min(this.chain.writeBytes, RNG_MAX_REQUEST);
      let done = 0;
      while (done < want) {
        const n = Math.min(this.scratch.length, want - done);
        const buf = this.scratch.subarray(0, n);
        this.entropy(buf);
        done += this.chain.copyIn(ram, done, buf);
      }
      q.complete(this.chain, done);
      pushed = true;
    }
    if (pushed) this.transport.notifyUsed(0);
  }

  saveState(): object {
    return { version: 1 };
  }

  loadState(state: unknown): void {
    StateReader.of(state, 'virtio-rng', 1);
  }
}
