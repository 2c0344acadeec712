/**
 * The platform-level interrupt controller (SiFive PLIC layout, QEMU `virt` at 0xc000000):
 * priorities at 0x0 + 4*src, pending bits at 0x1000, per-context enable bits at
 * 0x2000 + 0x80*ctx, per-context threshold and claim/complete at 0x200000 + 0x1000*ctx.
 * Each hart has two contexts, 2h = M-mode (drives MEIP) and 2h+1 = S-mode (drives SEIP).
 *
 * Sources are level-triggered (plic.irqLine(n)): pending follows the line while the source is
 * not claimed; a claim clears pending and holds the source until complete, after which a line
 * still high is pending again. Priorities have 3 bits (0 = never interrupts), as on QEMU.
 */
import type { InterruptPins, IrqLine, MmioDevice } from '../memory/mmio.ts';
import { StateReader } from '../memory/state.ts';

export const MIP_SEIP = 1 << 9;
export const MIP_MEIP = 1 << 11;
export const PLIC_SIZE = 0x600000;
const PRIORITY_MASK = 7;
const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x200000;
const CONTEXT_STRIDE = 0x1000;

export class Plic implements MmioDevice {
  readonly contexts: number;
  private readonly words: number;
  private readonly priority: Uint32Array;
  private readonly pending: Uint32Array;
  private readonly claimed: Uint32Array;
  private readonly level: Uint8Array;
  private readonly enable: Uint32Array;
  private readonly threshold: Uint32Array;
  private readonly output: boolean[];
  private readonly lines: IrqLine[] = [];

  constructor(
    private readonly harts: readonly InterruptPins[],
    /** Number of sources (riscv,ndev): sources are 1..ndev. */
    readonly ndev = 95,
  ) {
    if (!Number.isInteger(ndev) || ndev < 1 || ndev > 1023) throw new RangeError(`PLIC ndev ${ndev} not in [1, 1023]`);
    this.contexts = 2 * harts.length;
    this.words = Math.ceil((ndev + 1) / 32);
    this.priority = new Uint32Array(ndev + 1);
    this.pending = new Uint32Array(this.words);
    this.claimed = new Uint32Array(this.words);
    this.level = new Uint8Array(ndev + 1);
    this.enable = new Uint32Array(this.contexts * this.words);
    this.threshold = new Uint32Array(this.contexts);
    this.output = new Array<boolean>(this.contexts).fill(false);
  }

  /** The interrupt line of source n (1..ndev); the same object each time. */
  irqLine(n: number): IrqLine {
    if (!Number.isInteger(n) || n < 1 || n > this.ndev)
      throw new RangeError(`PLIC source ${n} not in [1, ${this.ndev}]`);
    return (this.lines[n] ??= { set: (level: boolean) => this.setLevel(n, level) });
  }

  private setLevel(n: number, level: boolean): void {
    this.level[n] = level ? 1 : 0;
    const w = n >> 5;
    const bit = 1 << (n & 31);
    if (level) this.pending[w]! |= bit;
    else this.pending[w]! &= ~bit;
    this.update();
  }

  /** The best claimable source for a context (0 if none): highest priority above threshold, lowest ID on ties. */
  private best(ctx: number): number {
    let best = 0;
    let bestPrio = this.threshold[ctx]!;
    const en = ctx * this.words;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w]! & ~this.claimed[w]! & this.enable[en + w]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const src = w * 32 + b;
        const p = this.priority[src]!;
        if (p > bestPrio) {
          bestPrio = p;
          best = src;
        }
      }
    }
    return best;
  }

  private update(): void {
    for (let ctx = 0; ctx < this.contexts; ctx++) {
      const level = this.best(ctx) !== 0;
      if (level === this.output[ctx]) continue;
      this.output[ctx] = level;
      this.harts[ctx >> 1]!.setPending(ctx & 1 ? MIP_SEIP : MIP_MEIP, level);
    }
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    const o = offset & ~3;
    if (o < PENDING_BASE) {
      const src = o >> 2;
      return src <= this.ndev ? this.priority[src]! : 0;
    }
    if (o < ENABLE_BASE) {
      const w = (o - PENDING_BASE) >> 2;
      return w < this.words ? this.pending[w]! >>> 0 : 0;
    }
    if (o < CONTEXT_BASE) {
      const ctx = Math.floor((o - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((o - ENABLE_BASE) % ENABLE_STRIDE) >> 2;
      return ctx < this.contexts && w < this.words ? this.enable[ctx * this.words + w]! >>> 0 : 0;
    }
    const ctx = Math.floor((o - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contexts) return 0;
    const reg = (o - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) return this.threshold[ctx]!;
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  private claim(ctx: number): number {
    const src = this.best(ctx);
    if (src === 0) return 0;
    const w = src >> 5;
    const bit = 1 << (src & 31);
    this.pending[w]! &= ~bit;
    this.claimed[w]! |= bit;
    this.update();
    return src;
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    const o = offset & ~3;
    value >>>= 0;
    if (o < PENDING_BASE) {
      const src = o >> 2;
      if (src >= 1 && src <= this.ndev) {
        this.priority[src] = value & PRIORITY_MASK;
        this.update();
      }
      return;
    }
    if (o < ENABLE_BASE) return; // pending bits are read-only
    if (o < CONTEXT_BASE) {
      const ctx = Math.floor((o - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((o - ENABLE_BASE) % ENABLE_STRIDE) >> 2;
      if (ctx < this.contexts && w < this.words) {
        // Source 0 does not exist, nor do sources past ndev.
        let mask = 0xffffffff;
        if (w === 0) mask &= ~1;
        const top = this.ndev - w * 32; // highest valid bit in this word
        if (top < 31) mask &= (2 ** (top + 1) - 1) >>> 0;
        this.enable[ctx * this.words + w] = value & mask;
        this.update();
      }
      return;
    }
    const ctx = Math.floor((o - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (ctx >= this.contexts) return;
    const reg = (o - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) {
      this.threshold[ctx] = value & PRIORITY_MASK;
      this.update();
    } else if (reg === 4) {
      this.complete(ctx, value);
    }
  }

  private complete(ctx: number, src: number): void {
    if (src < 1 || src > this.ndev) return;
    const w = src >> 5;
    const bit = 1 << (src & 31);
    // Like QEMU and the SiFive spec: a completion for a source not enabled in this context is ignored.
    if (!(this.enable[ctx * this.words + w]! & bit)) return;
    this.claimed[w]! &= ~bit;
    if (this.level[src]) this.pending[w]! |= bit;
    this.update();
  }

  saveState(): object {
    return {
      version: 1,
      priority: [...this.priority],
      pending: [...this.pending],
      claimed: [...this.claimed],
      level: [...this.level],
      enable: [...this.enable],
      threshold: [...this.threshold],
    };
  }

  loadState(state: unknown): void {
    const r = StateReader.of(state, 'plic', 1);
    const U = 0xffffffff;
    this.priority.set(r.ints('priority', 0, PRIORITY_MASK, this.ndev + 1, this.ndev + 1));
    this.pending.set(r.ints('pending', 0, U, this.words, this.words));
    this.claimed.set(r.ints('claimed', 0, U, this.words, this.words));
    this.level.set(r.ints('level', 0, 1, this.ndev + 1, this.ndev + 1));
    this.enable.set(r.ints('enable', 0, U, this.enable.length, this.enable.length));
    this.threshold.set(r.ints('threshold', 0, PRIORITY_MASK, this.contexts, this.contexts));
    this.output.fill(false);
    for (let ctx = 0; ctx < this.contexts; ctx++)
      this.harts[ctx >> 1]!.setPending(ctx & 1 ? MIP_SEIP : MIP_MEIP, false);
    this.update();
  }
}
