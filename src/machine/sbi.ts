/**
 * virtkit's built-in SBI (RISC-V Supervisor Binary Interface, v2.0) implementation: with
 * `--firmware` absent, the kernel starts directly in S-mode and its `ecall`s are answered here,
 * in the host, instead of by M-mode firmware such as OpenSBI.
 *
 * Extensions: base, TIME, IPI, RFENCE, HSM, SRST, DBCN and the legacy console putchar/getchar,
 * set_timer and shutdown calls. Arguments arrive in a0..a5, the extension id in a7 and the
 * function id in a6; the result is an error code in a0 and a value in a1 (legacy calls: a0 only).
 *
 * The machine-side effects (timers, IPIs, TLB shootdowns, hart start/stop, reset, console) go
 * through SbiPlatform, so this file holds only the protocol. Guest-supplied addresses and hart
 * masks are validated: a bad one is an SBI error code for the guest, never a host exception.
 *
 * Console output is paced by the host: a DBCN write takes what the console accepts now and
 * returns that count (the spec allows partial and empty writes; the guest retries the rest), so
 * however large a write the guest asks for, the host takes one bounded piece per call.
 */

/** The registers of the calling hart: lo/hi int32 pairs (x[2*i] low word), as the Hart keeps them. */
export interface SbiHart {
  readonly hartId: number;
  readonly x: Int32Array;
}

export const enum HartState {
  Started = 0,
  Stopped = 1,
  StartPending = 2,
  StopPending = 3,
  Suspended = 4,
}

export interface SbiPlatform {
  readonly hartCount: number;
  /** Programs hart's S-mode timer: raise STIP when mtime >= time (Infinity: never), clear it now. */
  setTimer(hartId: number, time: number): void;
  /** Raises SSIP on a hart. */
  sendIpi(hartId: number): void;
  /** Flushes a hart's TLB (whole, or one page range) and, for fence.i, its decoded-instruction cache. */
  remoteFence(hartId: number, kind: 'fence.i' | 'sfence.vma'): void;
  hartState(hartId: number): HartState;
  /** Starts a stopped hart in S-mode at addr with a0 = hartid, a1 = opaque. */
  hartStart(hartId: number, addr: number, opaque: number): void;
  /** Stops the calling hart (it stays stopped until another hart starts it). */
  hartStop(hartId: number): void;
  /** Retentive suspend: the hart waits like WFI. */
  hartSuspend(hartId: number): void;
  /** type: 0 shutdown, 1 cold reboot, 2 warm reboot; reason: 0 none, 1 system failure. */
  systemReset(type: number, reason: number): void;
  /**
   * Hands guest output to the console; returns how many bytes (a prefix) it took: fewer, even 0,
   * when the host's console is behind or this turn's output budget is spent.
   */
  consoleWrite(bytes: Uint8Array): number;
  /** Takes up to max pending input bytes (may return an empty array). */
  consoleRead(max: number): Uint8Array;
  /** A view of guest physical RAM, or undefined when [addr, addr+len) is not entirely RAM. */
  ramView(addr: number, len: number): Uint8Array | undefined;
}

export const SBI_SUCCESS = 0;
export const SBI_ERR_FAILED = -1;
export const SBI_ERR_NOT_SUPPORTED = -2;
export const SBI_ERR_INVALID_PARAM = -3;
export const SBI_ERR_INVALID_ADDRESS = -5;
export const SBI_ERR_ALREADY_AVAILABLE = -6;

export const EXT_BASE = 0x10;
export const EXT_TIME = 0x54494d45;
export const EXT_IPI = 0x735049;
export const EXT_RFENCE = 0x52464e43;
export const EXT_HSM = 0x48534d;
export const EXT_SRST = 0x53525354;
export const EXT_DBCN = 0x4442434e;
const LEGACY_SET_TIMER = 0x00;
const LEGACY_PUTCHAR = 0x01;
const LEGACY_GETCHAR = 0x02;
const LEGACY_SHUTDOWN = 0x08;

/** SBI implementation id: not one of the registered ids (0..10), so guests can tell us apart. */
export const VIRTKIT_SBI_IMPL_ID = 0x766b;
const SPEC_VERSION_2_0 = 2 << 24;

const SUPPORTED = new Set([EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST, EXT_DBCN, 0, 1, 2, 8]);

/** Register i as an unsigned 64-bit number (exact below 2^53). */
function u64(h: SbiHart, i: number): number {
  return (h.x[2 * i + 1]! >>> 0) * 4294967296 + (h.x[2 * i]! >>> 0);
}

/** Register i as a signed number (exact in the int53 range). */
function s64(h: SbiHart, i: number): number {
  return h.x[2 * i + 1]! * 4294967296 + (h.x[2 * i]! >>> 0);
}

function setReg(h: SbiHart, i: number, v: number): void {
  h.x[2 * i] = v | 0;
  h.x[2 * i + 1] = Math.floor(v / 4294967296) | 0;
}

const ONE = new Uint8Array(1);
/** The one-byte console writes (legacy putchar, DBCN write_byte) reuse one buffer: the console copies it. */
function oneByte(b: number): Uint8Array {
  ONE[0] = b & 0xff;
  return ONE;
}

const A0 = 10;
const A1 = 11;
const A6 = 16;
const A7 = 17;

/** The harts selected by (hart_mask, hart_mask_base), or undefined if a selected hart does not exist. */
function selectHarts(h: SbiHart, p: SbiPlatform): number[] | undefined {
  const mask = u64(h, A0);
  const base = s64(h, A1);
  const out: number[] = [];
  if (base === -1) {
    for (let i = 0; i < p.hartCount; i++) out.push(i);
    return out;
  }
  if (base < 0 || base >= p.hartCount) return mask === 0 ? out : undefined;
  // Only the low 32 mask bits can name harts here (hartCount <= 8); higher bits name harts that do not exist.
  const lo = h.x[2 * A0]! >>> 0;
  if (h.x[2 * A0 + 1] !== 0) return undefined;
  for (let bit = 0; bit < 32; bit++) {
    if ((lo >>> bit) & 1) {
      const id = base + bit;
      if (id >= p.hartCount) return undefined;
      out.push(id);
    }
  }
  return out;
}

/**
 * Handles the ecall the hart just made from S-mode. Writes the results into a0/a1; the caller
 * advances pc past the ecall. Never throws.
 */
export function handleSbiCall(h: SbiHart, p: SbiPlatform): void {
  const eid = h.x[2 * A7]! >>> 0;
  const fid = h.x[2 * A6]! >>> 0;
  let err = SBI_SUCCESS;
  let value = 0;
  switch (eid) {
    case EXT_BASE:
      switch (fid) {
        case 0:
          value = SPEC_VERSION_2_0;
          break;
        case 1:
          value = VIRTKIT_SBI_IMPL_ID;
          break;
        case 2:
          value = 1;
          break;
        case 3:
          value = SUPPORTED.has(h.x[2 * A0]! >>> 0) && h.x[2 * A0 + 1] === 0 ? 1 : 0;
          break;
        case 4:
        case 5:
        case 6:
          value = 0;
          break;
        default:
          err = SBI_ERR_NOT_SUPPORTED;
      }
      break;
    case EXT_TIME:
    case LEGACY_SET_TIMER: {
      if (eid === EXT_TIME && fid !== 0) {
        err = SBI_ERR_NOT_SUPPORTED;
        break;
      }
      const t = u64(h, A0);
      p.setTimer(h.hartId, t >= 2 ** 53 ? Infinity : t);
      if (eid === LEGACY_SET_TIMER) {
        setReg(h, A0, 0);
        return;
      }
      break;
    }
    case EXT_IPI: {
      if (fid !== 0) {
        err = SBI_ERR_NOT_SUPPORTED;
        break;
      }
      const harts = selectHarts(h, p);
      if (!harts) err = SBI_ERR_INVALID_PARAM;
      else for (const id of harts) p.sendIpi(id);
      break;
    }
    case EXT_RFENCE: {
      if (fid > 2) {
        err = SBI_ERR_NOT_SUPPORTED;
        break;
      }
      const harts = selectHarts(h, p);
      if (!harts) err = SBI_ERR_INVALID_PARAM;
      else for (const id of harts) p.remoteFence(id, fid === 0 ? 'fence.i' : 'sfence.vma');
      break;
    }
    case EXT_HSM:
      switch (fid) {
        case 0: {
          const target = u64(h, A0);
          const addr = u64(h, A1);
          if (target >= p.hartCount) err = SBI_ERR_INVALID_PARAM;
          else if (!p.ramView(addr, 4)) err = SBI_ERR_INVALID_ADDRESS;
          else if (p.hartState(target) !== HartState.Stopped) err = SBI_ERR_ALREADY_AVAILABLE;
          else p.hartStart(target, addr, u64(h, 12));
          break;
        }
        case 1:
          p.hartStop(h.hartId);
          break;
        case 2: {
          const target = u64(h, A0);
          if (target >= p.hartCount) err = SBI_ERR_INVALID_PARAM;
          else value = p.hartState(target);
          break;
        }
        case 3: {
          const type = u64(h, A0);
          if (type === 0) p.hartSuspend(h.hartId);
          else err = type >= 0x80000000 ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM;
          break;
        }
        default:
          err = SBI_ERR_NOT_SUPPORTED;
      }
      break;
    case EXT_SRST: {
      if (fid !== 0) {
        err = SBI_ERR_NOT_SUPPORTED;
        break;
      }
      const type = u64(h, A0);
      const reason = u64(h, A1);
      if (type > 2 || reason > 1) err = SBI_ERR_INVALID_PARAM;
      else p.systemReset(type, reason);
      break;
    }
    case LEGACY_SHUTDOWN:
      p.systemReset(0, 0);
      return;
    case EXT_DBCN:
      switch (fid) {
        case 0:
        case 1: {
          const n = u64(h, A0);
          // On RV64 the whole address is in a1; a2 (the RV32 high half) must be zero. The whole
          // range must be RAM even when only part of it is written now.
          const addr = u64(h, A1);
          const view = u64(h, 12) !== 0 ? undefined : p.ramView(addr, n);
          if (!view) {
            err = SBI_ERR_INVALID_PARAM;
            break;
          }
          if (fid === 0) {
            value = p.consoleWrite(view);
          } else {
            const got = p.consoleRead(n);
            view.set(got);
            value = got.length;
          }
          break;
        }
        case 2:
          // A blocking call in the spec: with the console full the byte is lost and the guest told.
          if (p.consoleWrite(oneByte(h.x[2 * A0]!)) === 0) err = SBI_ERR_FAILED;
          break;
        default:
          err = SBI_ERR_NOT_SUPPORTED;
      }
      break;
    case LEGACY_PUTCHAR:
      // As for write_byte: a full console loses the byte, reported as an error (guests ignore it).
      setReg(h, A0, p.consoleWrite(oneByte(h.x[2 * A0]!)) === 0 ? SBI_ERR_FAILED : 0);
      return;
    case LEGACY_GETCHAR: {
      const got = p.consoleRead(1);
      setReg(h, A0, got.length ? got[0]! : -1);
      return;
    }
    default:
      err = SBI_ERR_NOT_SUPPORTED;
  }
  setReg(h, A0, err);
  setReg(h, A1, value);
}
