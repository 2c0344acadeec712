/**
 * A profile of a running VM (`virtkit run --profile FILE`): where the guest spends its time and
 * what it makes the emulator do, to find what dominates a boot.
 *
 * - Guest PC samples: after every CPU slice (20,000 instructions per hart, vm.ts) the first
 *   hart's pc and privilege are counted. Supervisor pcs are named with the kernel's System.map
 *   when one is given (Debian's linux-image package ships it as /boot/System.map-VERSION).
 * - Hart events (hart-profile.ts): traps by cause, TLB misses (page-table walks), TLB flushes,
 *   satp writes, decoded pages and translated windows made and thrown away, and how many
 *   instructions ran in translated code.
 * - Host time: in CPU slices, in the rest of the VM's turns (timers, device polling, input), and
 *   outside turns (I/O callbacks, output, sleeping while every hart waits).
 *
 * Everything here is platform-neutral; the CLI writes the report.
 */
import { HartProfile, WALK_KINDS } from '../riscv/hart-profile.ts';
import type { VirtMachine } from '../machine/virt.ts';

const TWO32 = 4294967296;
/** Samples keep 52 bits of the pc (20 of the high word): exact in a double, and every kernel and user address stays distinct. */
const HIGH_BITS = 0xfffff;
/** Distinct supervisor pcs a profile keeps (a boot samples about 30,000). */
const MAX_PCS = 1 << 20;
const PRIV_NAMES = ['user', 'supervisor', 'hypervisor', 'machine'];
const EXCEPTION_NAMES: Record<number, string> = {
  0: 'instruction misaligned',
  1: 'instruction access fault',
  2: 'illegal instruction',
  3: 'breakpoint',
  4: 'load misaligned',
  5: 'load access fault',
  6: 'store misaligned',
  7: 'store access fault',
  8: 'ecall from U',
  9: 'ecall from S',
  11: 'ecall from M',
  12: 'instruction page fault',
  13: 'load page fault',
  15: 'store page fault',
};
const INTERRUPT_NAMES: Record<number, string> = {
  1: 'supervisor software',
  3: 'machine software',
  5: 'supervisor timer',
  7: 'machine timer',
  9: 'supervisor external',
  11: 'machine external',
};

/** A kernel symbol table: sorted start addresses (52-bit keys, as samples) and names. */
export class SymbolTable {
  private constructor(
    private readonly starts: Float64Array,
    private readonly names: string[],
  ) {}

  /**
   * Parses System.map text ("ffffffff80000000 T _start" per line). Lines that are not
   * `address type name` are skipped; a text with no symbol at all is an error.
   */
  static parse(text: string): SymbolTable {
    const rows: Array<[number, string]> = [];
    for (const line of text.split('\n')) {
      const m = /^([0-9a-fA-F]{1,16}) [tTwW] (\S+)/.exec(line);
      if (!m) continue;
      rows.push([keyOfHex(m[1]!), m[2]!]);
    }
    if (rows.length === 0)
      throw new Error('no text symbols found (expected System.map lines such as "ffffffff80000000 T _start")');
    rows.sort((a, b) => a[0] - b[0]);
    return new SymbolTable(
      Float64Array.from(rows, (r) => r[0]),
      rows.map((r) => r[1]),
    );
  }

  /** The symbol containing `key` (the nearest start at or below it), or undefined below the first. */
  lookup(key: number): string | undefined {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    if (hi < 0 || key < s[0]!) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid]! <= key) lo = mid;
      else hi = mid - 1;
    }
    return this.names[lo];
  }
}

function keyOfHex(hex: string): number {
  const v = hex.padStart(16, '0');
  return (parseInt(v.slice(0, 8), 16) & HIGH_BITS) * TWO32 + parseInt(v.slice(8), 16);
}

function keyToHex(key: number): string {
  const hi = Math.floor(key / TWO32);
  const lo = key - hi * TWO32;
  const full = hi === HIGH_BITS ? 0xfff00000 | hi : hi; // kernel half: restore the sign-extension
  return (full >>> 0).toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

export interface ProfileReport {
  wallSeconds: number;
  instructions: number;
  translatedInstructions: number;
  host: { sliceSeconds: number; turnOtherSeconds: number; outsideTurnsSeconds: number; sliceCount: number };
  samples: { total: number; byPriv: Record<string, number> };
  /** Top supervisor functions (or pcs, without a symbol table), most sampled first. */
  topKernel: Array<{ name: string; samples: number; share: number }>;
  exceptions: Array<{ cause: number; name: string; count: number }>;
  interrupts: Array<{ cause: number; name: string; count: number }>;
  trapsFrom: Record<string, number>;
  walks: Record<string, number>;
  tlbFlushAll: number;
  tlbFlushPage: number;
  satpWrites: number;
  codePagesMade: number;
  codePagesDropped: number;
  codeFlushes: number;
  windowsTranslated: number;
  windowsDropped: number;
}

export class GuestProfiler {
  readonly hart = new HartProfile();
  private readonly startedMs: number;
  private sliceMs = 0;
  private turnMs = 0;
  private slices = 0;
  private readonly privSamples = new Float64Array(4);
  private readonly kernelSamples = new Map<number, number>();
  private otherKernelSamples = 0;
  private boards: VirtMachine[] = [];
  /** Instructions and translated instructions of boards a reboot replaced. */
  private doneInstret = 0;
  private doneJit = 0;

  constructor(nowMs: number) {
    this.startedMs = nowMs;
  }

  /** Counts this board's hart events from now on (a reboot's new board is attached again). */
  attach(board: VirtMachine): void {
    for (const b of this.boards) {
      this.doneInstret += b.instret;
      for (const h of b.harts) this.doneJit += h.jitRan;
    }
    this.boards = [board];
    for (const h of board.harts) {
      h.profile = this.hart;
      h.jitRan = 0;
    }
    this.doneInstret -= board.instret; // a restored board's earlier instructions are not this profile's
  }

  /**
   * After a CPU slice of `ms` host milliseconds that retired `retired` instructions: one pc sample
   * of the first hart, unless the slice ran nothing (every hart waiting: its pc is the idle loop's
   * WFI, which would otherwise be sampled at the host's rate rather than the guest's).
   */
  afterSlice(board: VirtMachine, ms: number, retired: number): void {
    this.sliceMs += ms;
    this.slices++;
    if (retired === 0) return;
    const h = board.harts[0]!;
    this.privSamples[h.priv & 3]++;
    if (h.priv === 1) {
      const key = (h.pcHi & HIGH_BITS) * TWO32 + (h.pcLo >>> 0);
      const n = this.kernelSamples.get(key);
      // The guest chooses its pcs: past MAX_PCS distinct ones, new pcs are counted together.
      if (n !== undefined) this.kernelSamples.set(key, n + 1);
      else if (this.kernelSamples.size < MAX_PCS) this.kernelSamples.set(key, 1);
      else this.otherKernelSamples++;
    }
  }

  /** A whole VM turn took `ms` (its slices included). */
  afterTurn(ms: number): void {
    this.turnMs += ms;
  }

  report(nowMs: number, symbols?: SymbolTable, top = 25): ProfileReport {
    let instructions = this.doneInstret;
    let translated = this.doneJit;
    for (const b of this.boards) {
      instructions += b.instret;
      for (const h of b.harts) translated += h.jitRan;
    }
    const total = this.privSamples.reduce((a, b) => a + b, 0);
    const byName = new Map<string, number>();
    for (const [key, n] of this.kernelSamples) {
      const name = symbols?.lookup(key) ?? (symbols ? `?${keyToHex(key)}` : keyToHex(key - (key % 256)));
      byName.set(name, (byName.get(name) ?? 0) + n);
    }
    if (this.otherKernelSamples) byName.set("(pcs beyond the profile's table)", this.otherKernelSamples);
    const p = this.hart;
    const list = (counts: Float64Array, names: Record<number, string>) =>
      [...counts]
        .map((count, cause) => ({ cause, name: names[cause] ?? `cause ${cause}`, count }))
        .filter((e) => e.count > 0)
        .sort((a, b) => b.count - a.count);
    const wallMs = nowMs - this.startedMs;
    return {
      wallSeconds: wallMs / 1000,
      instructions,
      translatedInstructions: translated,
      host: {
        sliceSeconds: this.sliceMs / 1000,
        turnOtherSeconds: (this.turnMs - this.sliceMs) / 1000,
        outsideTurnsSeconds: (wallMs - this.turnMs) / 1000,
        sliceCount: this.slices,
      },
      samples: {
        total,
        byPriv: Object.fromEntries(PRIV_NAMES.map((n, i) => [n, this.privSamples[i]!]).filter(([, v]) => v !== 0)),
      },
      topKernel: [...byName]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([name, samples]) => ({ name, samples, share: total ? samples / total : 0 })),
      exceptions: list(p.exceptions, EXCEPTION_NAMES),
      interrupts: list(p.interrupts, INTERRUPT_NAMES),
      trapsFrom: Object.fromEntries(PRIV_NAMES.map((n, i) => [n, p.trapsFrom[i]!]).filter(([, v]) => v !== 0)),
      walks: Object.fromEntries(WALK_KINDS.map((k, i) => [k, p.walks[i]!])),
      tlbFlushAll: p.tlbFlushAll,
      tlbFlushPage: p.tlbFlushPage,
      satpWrites: p.satpWrites,
      codePagesMade: p.codePagesMade,
      codePagesDropped: p.codePagesDropped,
      codeFlushes: p.codeFlushes,
      windowsTranslated: p.windowsTranslated,
      windowsDropped: p.windowsDropped,
    };
  }
}

/** The report as text for people (the JSON form is the report object itself). */
export function formatProfile(r: ProfileReport): string {
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const per = (v: number) => (r.instructions ? `${((1e6 * v) / r.instructions).toFixed(1)} per M instructions` : '');
  const out: string[] = [];
  out.push(`virtkit profile: ${r.wallSeconds.toFixed(1)} s, ${n(r.instructions)} instructions`);
  out.push(
    `translated code ran ${n(r.translatedInstructions)} (${pct(r.instructions ? r.translatedInstructions / r.instructions : 0)}); ` +
      `${n(r.windowsTranslated)} windows translated, ${n(r.windowsDropped)} thrown away`,
  );
  out.push(
    `decoded pages: ${n(r.codePagesMade)} made, ${n(r.codePagesDropped)} dropped, ${n(r.codeFlushes)} decode-cache flushes`,
  );
  const h = r.host;
  out.push(
    `host time: ${h.sliceSeconds.toFixed(1)} s in ${n(h.sliceCount)} CPU slices, ${h.turnOtherSeconds.toFixed(1)} s in the rest ` +
      `of the VM's turns (timers, devices, input), ${h.outsideTurnsSeconds.toFixed(1)} s outside turns (I/O callbacks, output, idle)`,
  );
  const s = r.samples;
  out.push(
    `pc samples: ${n(s.total)} (${Object.entries(s.byPriv)
      .map(([k, v]) => `${k} ${pct(s.total ? v / s.total : 0)}`)
      .join(', ')})`,
  );
  out.push(
    `TLB: ${Object.entries(r.walks)
      .map(([k, v]) => `${n(v)} ${k} walks (${per(v)})`)
      .join(
        ', ',
      )}; ${n(r.tlbFlushAll)} full flushes, ${n(r.tlbFlushPage)} page flushes, ${n(r.satpWrites)} satp writes`,
  );
  out.push(
    `traps taken from: ${Object.entries(r.trapsFrom)
      .map(([k, v]) => `${k} ${n(v)}`)
      .join(', ')}`,
  );
  out.push('exceptions:');
  for (const e of r.exceptions) out.push(`  ${n(e.count).padStart(12)}  ${e.name} (${per(e.count)})`);
  out.push('interrupts:');
  for (const e of r.interrupts) out.push(`  ${n(e.count).padStart(12)}  ${e.name}`);
  out.push('top supervisor code (share of all pc samples):');
  for (const t of r.topKernel) out.push(`  ${pct(t.share).padStart(6)}  ${n(t.samples).padStart(10)}  ${t.name}`);
  return out.join('\n') + '\n';
}
