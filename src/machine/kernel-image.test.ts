import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelImageError, loadKernel, parseImageHeader, planBootLayout } from './kernel-image.ts';

const MiB = 1024 * 1024;

function fakeImage(textOffset: number, imageSize: number, efi = true): Uint8Array {
  const b = new Uint8Array(4096);
  const dv = new DataView(b.buffer);
  if (efi) b.set([0x4d, 0x5a], 0);
  dv.setUint32(8, textOffset, true);
  dv.setUint32(16, imageSize, true);
  dv.setUint32(32, 2, true);
  b.set(new TextEncoder().encode('RISCV'), 48);
  dv.setUint32(56, 0x05435352, true);
  b[100] = 0xaa;
  return b;
}

test('an EFI-stub Image is recognised and loaded at RAM base + text_offset', () => {
  const img = fakeImage(0x200000, 8 * MiB);
  const hdr = parseImageHeader(img)!;
  assert.equal(hdr.textOffset, 0x200000);
  assert.equal(hdr.efiStub, true);
  const ram = new Uint8Array(64 * MiB);
  const k = loadKernel(img, ram, 0x80000000);
  assert.equal(k.entry, 0x80200000);
  assert.equal(k.end, 0x80200000 + 8 * MiB);
  assert.equal(ram[0x200000 + 100], 0xaa);
});

test('initrd and FDT are placed as QEMU virt places them', () => {
  const k = { entry: 0x80200000, end: 0x80200000 + 30 * MiB, kind: 'image' as const };
  const big = planBootLayout(0x80000000, 512 * MiB, k, 3 * MiB, 8192);
  assert.equal(big.initrdStart, 0x80200000 + 128 * MiB);
  assert.equal(big.fdtAddr, 0x80000000 + 512 * MiB - 2 * MiB);
  const small = planBootLayout(0x80000000, 128 * MiB, { ...k, end: 0x80200000 + 10 * MiB }, MiB, 8192);
  assert.equal(small.initrdStart, 0x80200000 + 64 * MiB);
});

test('bad kernels and layouts give clear errors', () => {
  const ram = new Uint8Array(16 * MiB);
  assert.throws(() => loadKernel(new Uint8Array(0), ram, 0x80000000), /kernel is empty/);
  assert.throws(() => loadKernel(new Uint8Array(15 * MiB), ram, 0x80000000), /raw binary.*needs 17 MiB of RAM, the machine has 16 MiB/);
  assert.throws(() => loadKernel(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9), ram, 0x80000000), /kernel ELF: unknown ELF class 9/);
  assert.throws(() => loadKernel(fakeImage(0x200000, 64 * MiB), ram, 0x80000000), /needs 66 MiB of RAM/);
  assert.throws(() => loadKernel(fakeImage(0x123, 4096), ram, 0x80000000), KernelImageError);
  const k = { entry: 0x80200000, end: 0x80200000 + 30 * MiB, kind: 'image' as const };
  assert.throws(() => planBootLayout(0x80000000, 64 * MiB, k, 40 * MiB, 8192), /does not fit/);
});

test('anything else is a raw binary at RAM base + 2 MiB, as QEMU -kernel loads U-Boot', () => {
  const ram = new Uint8Array(16 * MiB);
  const raw = Uint8Array.of(0x97, 0x02, 0x00, 0x00, 0x13); // auipc t0,0; not an Image, not ELF
  const k = loadKernel(raw, ram, 0x80000000);
  assert.deepEqual(k, { entry: 0x80200000, end: 0x80200005, kind: 'raw' });
  assert.deepEqual([...ram.subarray(2 * MiB, 2 * MiB + 5)], [...raw]);
  assert.equal(ram[2 * MiB - 1], 0);
});
