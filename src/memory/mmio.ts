/**
 * The contract between the board's bus and every memory-mapped device.
 * Devices see offsets from their own base; the bus owns addresses (one memory-map table per
 * board, overlaps rejected). Accesses are 1, 2 or 4 bytes: the hart splits an 8-byte access into
 * two 4-byte ones (low word first). A device never throws for a guest access: an offset it does
 * not implement reads as 0 and ignores writes.
 */
export interface MmioDevice {
  /** Returns the value zero-extended to `size` bytes (as an unsigned 32-bit number for size 4). */
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** A level-triggered interrupt line into an interrupt controller (the PLIC's sources). */
export interface IrqLine {
  set(level: boolean): void;
}

/**
 * What a hart exposes to the CLINT/ACLINT and the PLIC: pending-bit pins in mip.
 * mask is a mip bit mask (e.g. 1 << 7 = MTIP, 1 << 3 = MSIP, 1 << 11 = MEIP, 1 << 9 = SEIP).
 */
export interface InterruptPins {
  setPending(mask: number, level: boolean): void;
}
