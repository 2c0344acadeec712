/**
 * Loading a Linux kernel the way QEMU's `virt` board does, so the same files boot on both.
 *
 * Accepted: the RISC-V Linux `Image` format (Documentation/arch/riscv/boot-image-header.rst),
 * including the EFI-stub variant Debian ships (it starts with "MZ" and still carries the RISC-V
 * header), ELF executables (vmlinux, bare-metal programs) through elf.ts, and, as QEMU's -kernel
 * does, anything else as a raw binary at RAM base + 2 MiB: that is where S-mode programs such as
 * U-Boot's qemu-riscv64_smode build are linked to run (CONFIG_TEXT_BASE 0x80200000), after the
 * M-mode firmware at RAM base.
 *
 * Image header (little-endian, 64 bytes):
 *   0 code0/code1, 8 text_offset (u64), 16 image_size (u64), 24 flags (u64),
 *   32 version (u32), 36 res1, 40 res2 (u64), 48 magic "RISCV\0\0\0" (deprecated), 56 magic2 "RSC\x05".
 *
 * Placement (QEMU hw/riscv/boot.c rules, restated): the kernel at RAM base + text_offset
 * (2 MiB for RV64 Images); the initrd at kernel start + min(RAM/2, 128 MiB); the FDT at the
 * highest 2 MiB-aligned address below min(RAM end, RAM base + 3 GiB) that leaves room for it.
 */
import { parseElf, loadElf, ElfError } from './elf.ts';

export class KernelImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelImageError';
  }
}

const MiB = 1024 * 1024;
const MAGIC2 = 0x05435352; // "RSC\x05"

export interface RiscvImageHeader {
  textOffset: number;
  imageSize: number;
  version: number;
  efiStub: boolean;
}

/** Parses the RISC-V Image header, or returns undefined if the bytes are not an Image. */
export function parseImageHeader(bytes: Uint8Array): RiscvImageHeader | undefined {
  if (bytes.length < 64) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(...bytes.subarray(48, 53));
  if (dv.getUint32(56, true) !== MAGIC2 && magic !== 'RISCV') return undefined;
  const textOffset = dv.getUint32(8, true) + dv.getUint32(12, true) * 2 ** 32;
  const imageSize = dv.getUint32(16, true) + dv.getUint32(20, true) * 2 ** 32;
  return {
    textOffset,
    imageSize,
    version: dv.getUint32(32, true),
    efiStub: bytes[0] === 0x4d && bytes[1] === 0x5a,
  };
}

export interface LoadedKernel {
  /** Physical entry point. */
  entry: number;
  /** First byte past the loaded kernel (including its bss, when the header says how big it is). */
  end: number;
  kind: 'image' | 'elf' | 'raw';
}

/** Where a raw binary goes: RAM base + 2 MiB, as QEMU's virt board puts it behind the firmware. */
export const RAW_KERNEL_OFFSET = 2 * MiB;

/** Loads a kernel Image or ELF into RAM; throws KernelImageError naming what is wrong. */
export function loadKernel(bytes: Uint8Array, ram: Uint8Array, ramBase: number): LoadedKernel {
  const hdr = parseImageHeader(bytes);
  if (hdr) {
    if (hdr.textOffset % 4096 !== 0 || hdr.textOffset >= ram.length)
      throw new KernelImageError(`kernel Image header has an invalid text_offset 0x${hdr.textOffset.toString(16)}`);
    const size = Math.max(bytes.length, hdr.imageSize);
    if (hdr.textOffset + size > ram.length)
      throw new KernelImageError(
        `kernel Image needs ${Math.ceil((hdr.textOffset + size) / MiB)} MiB of RAM, the machine has ${Math.floor(ram.length / MiB)} MiB`,
      );
    ram.set(bytes, hdr.textOffset);
    return { entry: ramBase + hdr.textOffset, end: ramBase + hdr.textOffset + size, kind: 'image' };
  }
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    try {
      const elf = parseElf(bytes);
      loadElf(elf, bytes, ram, ramBase);
      let end = ramBase;
      for (const s of elf.segments) end = Math.max(end, s.paddr + s.memsz);
      return { entry: elf.toPhysical(elf.entry), end, kind: 'elf' };
    } catch (e) {
      if (e instanceof ElfError) throw new KernelImageError(`kernel ELF: ${e.message}`);
      throw e;
    }
  }
  if (bytes.length === 0) throw new KernelImageError('kernel is empty');
  if (RAW_KERNEL_OFFSET + bytes.length > ram.length)
    throw new KernelImageError(
      `kernel (a raw binary: neither a RISC-V Linux Image nor ELF) needs ${Math.ceil((RAW_KERNEL_OFFSET + bytes.length) / MiB)} MiB of RAM, the machine has ${Math.floor(ram.length / MiB)} MiB`,
    );
  ram.set(bytes, RAW_KERNEL_OFFSET);
  return { entry: ramBase + RAW_KERNEL_OFFSET, end: ramBase + RAW_KERNEL_OFFSET + bytes.length, kind: 'raw' };
}

export interface BootLayout {
  initrdStart?: number;
  initrdEnd?: number;
  fdtAddr: number;
}

/** Computes where QEMU would put the initrd and the FDT; throws KernelImageError if they do not fit. */
export function planBootLayout(
  ramBase: number,
  ramSize: number,
  kernel: LoadedKernel,
  initrdSize: number | undefined,
  fdtSize: number,
): BootLayout {
  const ramEnd = ramBase + ramSize;
  const fdtTop = Math.min(ramEnd, ramBase + 3072 * MiB);
  const fdtAddr = Math.floor((fdtTop - fdtSize) / (2 * MiB)) * 2 * MiB;
  if (fdtAddr < kernel.end) throw new KernelImageError('not enough RAM for the kernel and the device tree');
  if (initrdSize === undefined) return { fdtAddr };
  const initrdStart = kernel.entry + Math.min(ramSize / 2, 128 * MiB);
  const initrdEnd = initrdStart + initrdSize;
  if (initrdStart < kernel.end || initrdEnd > fdtAddr)
    throw new KernelImageError(
      `the initrd (${Math.ceil(initrdSize / MiB)} MiB) does not fit in RAM beside the kernel: use more --memory`,
    );
  return { initrdStart, initrdEnd, fdtAddr };
}
