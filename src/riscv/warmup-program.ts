/**
 * A small M-mode program that executes every interpreter op at least once (taken and not-taken
 * branches, TLB hits and misses, misaligned accesses, traps, CSR/AMO/FP slow paths) with large
 * register values. Hart construction runs it once per process on a scratch bus, so V8 collects
 * type feedback for every case of the interpreter switch before it optimizes it; otherwise the
 * optimized loop deoptimizes each time a guest first uses an op ("insufficient type feedback"),
 * and a short run spends much of its time re-tiering. Assembled from tests-style source with the
 * GNU toolchain (rv64gc_zba_zbb_zbs). It spans two pages (cross-page jumps and branches, a
 * 32-bit instruction straddling the page boundary). Format: [word index from RAM base, words].
 */
export const WARMUP_PROGRAM: readonly (readonly [number, readonly number[]])[] = [
  [
    0,
    [
      0x0140006f, 0x34102e73, 0x004e0e13, 0x341e1073, 0x30200073, 0x00000297, 0xff028293, 0x30529073, 0x00006337,
      0x30032073, 0x80000537, 0x00000597, 0x2ca000ef, 0x00c60263, 0x00d61263, 0x00d64263, 0x00d65263, 0x00d66263,
      0x00d67263, 0x00d60263, 0x00c61263, 0x00c6c263, 0x00c6d263, 0x00c6e263, 0x00c6f263, 0x01ff0263, 0x01ff1263,
      0x01ff4263, 0x01ff5263, 0x01ff6263, 0x01ff7263, 0x01efc263, 0x01efd263, 0x01efe263, 0x01eff263, 0x01ff2833,
      0x01ff3833, 0x01efa833, 0x01efb833, 0x003f2813, 0x003f3813, 0x0bff4833, 0x0bff7833, 0x12000073, 0x00e400a3,
      0x12000073, 0x00e41123, 0x12000073, 0x00e42223, 0x12000073, 0x00e43423, 0x12000073, 0x00140783, 0x12000073,
      0x00241783, 0x12000073, 0x00442783, 0x12000073, 0x00843783, 0x12000073, 0x00144783, 0x12000073, 0x00245783,
      0x12000073, 0x00446783, 0x00343783, 0x00f432a3, 0x83060813, 0x00562813, 0x00563813, 0xffd64813, 0x05566813,
      0x07f67813, 0x00361813, 0x02861813, 0x00365813, 0x02865813, 0x40365813, 0x42865813, 0x00d60833, 0x40d60833,
      0x00d61833, 0x00d62833, 0x00d63833, 0x00d64833, 0x00d65833, 0x40d65833, 0x00d66833, 0x00d67833, 0x04d6081b,
      0x0076181b, 0x0076581b, 0x4076581b, 0x00d6083b, 0x40d6083b, 0x00d6183b, 0x00d6583b, 0x40d6583b, 0x02d60833,
      0x02d61833, 0x02d62833, 0x02d63833, 0x02d64833, 0x02d65833, 0x02d66833, 0x02d67833, 0x02064833, 0x02d6083b,
      0x02d6483b, 0x02d6583b, 0x02d6683b, 0x02d6783b, 0x00003837, 0x0398081b, 0x00060893, 0x0ff0000f, 0x34061873,
      0x3406a873, 0x3406b873, 0x3402d873, 0x3402e873, 0x3402f873, 0x1004282f, 0x190428af, 0x1004382f, 0x190438af,
      0x00c4282f, 0x08c4382f, 0xe0d4382f, 0x01042507, 0x01843587, 0x02a42027, 0x02b43427, 0x02b5f653, 0xe2060853,
      0x20d62833, 0x20d64833, 0x20d66833, 0x08d6083b, 0x20d6283b, 0x20d6483b, 0x20d6683b, 0x0856181b, 0x40d67833,
      0x40d66833, 0x40d64833, 0x60061813, 0x6006181b, 0x60161813, 0x6016181b, 0x60261813, 0x6026181b, 0x0ad66833,
      0x0ad67833, 0x0ad64833, 0x0ad65833, 0x60461813, 0x60561813, 0x0806483b, 0x60d61833, 0x60d6183b, 0x60d65833,
      0x60d65813, 0x60d6581b, 0x60d6583b, 0x28765813, 0x6b865813, 0x48d61833, 0x4a861813, 0x48d65833, 0x4a865813,
      0x68d61833, 0x6a861813, 0x28d61833, 0x2a861813, 0x88320605, 0x405c9836, 0x0073c05c, 0x00730000, 0x00000010,
      0x100f0000, 0x00ef0000, 0x37835270, 0x3ea37fd4, 0x05377ef4, 0x37830001, 0x8d930005, 0x9de3fffd, 0x0073d20d,
      0x006f1050, 0x80670000, 0x80670000,
    ],
  ],
  [1023, [0x08130001, 0x08330018, 0x0c6300c8, 0x0000ae00]],
];

/**
 * Run after WARMUP_PROGRAM on the feedback passes' harts (FS is on, s0 the data pointer), from its
 * first entry: loads and stores that miss the TLB after an sfence.vma and then hit it (the
 * program's aligned ld/sd and FP accesses all follow an sfence or are misaligned, so their hit
 * paths and the FP miss paths had no feedback: each deoptimized the loop in a Linux boot), li and
 * cbo.zero (ops WARMUP_PROGRAM lacks), then a call into the next page, which returns (a translated
 * page's exit to a page without a translation yet). Same format.
 */
export const WARMUP_HITS: readonly (readonly [number, readonly number[]])[] = [
  [
    0x2000 / 4,
    [
      0x12000073, // sfence.vma
      0x01043783, // ld a5, 16(s0)
      0x01043783, // ld a5, 16(s0)
      0x00e43823, // sd a4, 16(s0)
      0x00e43823, // sd a4, 16(s0)
      0x01040783, // lb a5, 16(s0)
      0x01144783, // lbu a5, 17(s0)
      0x01241783, // lh a5, 18(s0)
      0x01245783, // lhu a5, 18(s0)
      0x01442783, // lw a5, 20(s0)
      0x01446783, // lwu a5, 20(s0)
      0x00e40823, // sb a4, 16(s0)
      0x00e41923, // sh a4, 18(s0)
      0x00e42a23, // sw a4, 20(s0)
      0x12000073, // sfence.vma
      0x01043087, // fld f1, 16(s0)
      0x01043087, // fld f1, 16(s0)
      0x00143c27, // fsd f1, 24(s0)
      0x00143c27, // fsd f1, 24(s0)
      0x12000073, // sfence.vma
      0x02042107, // flw f2, 32(s0)
      0x02042107, // flw f2, 32(s0)
      0x02242427, // fsw f2, 40(s0)
      0x02242427, // fsw f2, 40(s0)
      0x00700793, // li a5, 7 (addi a5, x0, 7: its own op)
      0x0044200f, // cbo.zero (s0)
      0x00001317, // auipc t1, 1: t1 = this + 4096, in the next page
      0xf98300e7, // jalr ra, -104(t1): call the next page's first instruction
      0x10500073, // wfi
    ],
  ],
  [0x3000 / 4, [0x00008067]], // ret
];
