# Zbc/Zbkc (clmul, clmulh, clmulr), Zbkb (pack, packh, packw, brev8), Zbkx (xperm4, xperm8) and
# Zicond (czero.eqz, czero.nez): expected values from an independent reference (Python big
# integers: the carry-less product as a polynomial over GF(2), byte/nibble lookups). Also: x0 as
# destination, rd == rs1, and (rv64gc model) the same encodings are illegal with the instruction
# bits in mtval. zip/unzip are RV32-only and not encodable here.
.include "vk.S"
.macro czero_eqz rd, rs1, rs2
  .insn r 0x33, 5, 7, \rd, \rs1, \rs2
.endm
.macro czero_nez rd, rs1, rs2
  .insn r 0x33, 7, 7, \rd, \rs1, \rs2
.endm
TEST_BEGIN
  # Zbc / Zbkc
  TEST_RR 1, clmul, 0x40a0789828c810f0, 0x123456789abcdef, 0xfedcba9876543210
  TEST_RR 2, clmulh, 0xe038d8688850b0, 0x123456789abcdef, 0xfedcba9876543210
  TEST_RR 3, clmulr, 0x1c071b0d110a160, 0x123456789abcdef, 0xfedcba9876543210
  TEST_RR 4, clmul, 0x5555555555555555, 0xffffffffffffffff, 0xffffffffffffffff
  TEST_RR 5, clmulh, 0x5555555555555555, 0xffffffffffffffff, 0xffffffffffffffff
  TEST_RR 6, clmulr, 0xaaaaaaaaaaaaaaaa, 0xffffffffffffffff, 0xffffffffffffffff
  TEST_RR 7, clmul, 0x3, 0x8000000000000001, 0x8000000000000003
  TEST_RR 8, clmulh, 0x4000000000000001, 0x8000000000000001, 0x8000000000000003
  TEST_RR 9, clmulr, 0x8000000000000002, 0x8000000000000001, 0x8000000000000003
  TEST_RR 10, clmul, 0x9, 0x7, 0x3
  TEST_RR 11, clmulh, 0x0, 0x7, 0x3
  TEST_RR 12, clmulr, 0x0, 0x7, 0x3
  TEST_RR 13, clmul, 0x27a589401efa500, 0x5a5a5a5aa5a5a5a5, 0x706050403020100
  TEST_RR 14, clmulh, 0x1865b680213a6fc, 0x5a5a5a5aa5a5a5a5, 0x706050403020100
  TEST_RR 15, clmulr, 0x30cb6d004274df8, 0x5a5a5a5aa5a5a5a5, 0x706050403020100
  # Zbkb
  TEST_RR 16, pack, 0x7654321089abcdef, 0x123456789abcdef, 0xfedcba9876543210
  TEST_RR 17, packh, 0x10ef, 0x123456789abcdef, 0xfedcba9876543210
  TEST_RR 18, packw, 0x3210cdef, 0x123456789abcdef, 0xfedcba9876543210
  TEST_RR 19, pack, 0xffffffffffffffff, 0xffffffffffffffff, 0xffffffffffffffff
  TEST_RR 20, packh, 0xffff, 0xffffffffffffffff, 0xffffffffffffffff
  TEST_RR 21, packw, 0xffffffffffffffff, 0xffffffffffffffff, 0xffffffffffffffff
  TEST_RR 22, pack, 0x300000001, 0x8000000000000001, 0x8000000000000003
  TEST_RR 23, packh, 0x301, 0x8000000000000001, 0x8000000000000003
  TEST_RR 24, packw, 0x30001, 0x8000000000000001, 0x8000000000000003
  TEST_RR 25, pack, 0x300000007, 0x7, 0x3
  TEST_RR 26, packh, 0x307, 0x7, 0x3
  TEST_RR 27, packw, 0x30007, 0x7, 0x3
  TEST_RR 28, packw, 0xffffffff80008000, 0x8000, 0xffff8000
  TEST_R 29, brev8, 0x80c4a2e691d5b3f7, 0x123456789abcdef
  TEST_R 30, brev8, 0xffffffffffffffff, 0xffffffffffffffff
  TEST_R 31, brev8, 0x100000000000080, 0x8000000000000001
  TEST_R 32, brev8, 0xe0, 0x7
  TEST_R 33, brev8, 0x5a5a5a5aa5a5a5a5, 0x5a5a5a5aa5a5a5a5
  # Zbkx: index bytes/nibbles out of range give 0
  TEST_RR 34, xperm8, 0x0, 0x123456789abcdef, 0xfedcba9876543210
  TEST_RR 35, xperm4, 0x123456789abcdef, 0x123456789abcdef, 0xfedcba9876543210
  TEST_RR 36, xperm8, 0x5a5a5a5aa5a5a5a5, 0x5a5a5a5aa5a5a5a5, 0x706050403020100
  TEST_RR 37, xperm4, 0x5a555a555a555a55, 0x5a5a5a5aa5a5a5a5, 0x706050403020100
  TEST_RR 38, xperm8, 0x0, 0x1122334455667788, 0xf0e0d0c0b0a0908
  TEST_RR 39, xperm4, 0x8181828283838484, 0x1122334455667788, 0xf0e0d0c0b0a0908
  TEST_RR 40, xperm8, 0xefcdab89, 0x123456789abcdef, 0x808080800010203
  TEST_RR 41, xperm4, 0xf7f7f7f7fffefdfc, 0x123456789abcdef, 0x808080800010203
  TEST_RR 42, xperm8, 0x3200000000000000, 0xfedcba9876543210, 0x123456789abcdef
  TEST_RR 43, xperm4, 0x123456789abcdef, 0xfedcba9876543210, 0x123456789abcdef
  # Zicond (encoded with .insn: binutils 2.40 predates it)
.ifndef QEMU                     # QEMU 7.2 has no Zicond
  TEST_RR 44, czero_eqz, 0x0, 0x1234, 0x0
  TEST_RR 45, czero_nez, 0x1234, 0x1234, 0x0
  TEST_RR 46, czero_eqz, 0x1234, 0x1234, 0x1
  TEST_RR 47, czero_nez, 0x0, 0x1234, 0x1
  TEST_RR 48, czero_eqz, 0xffffffffffffffff, 0xffffffffffffffff, 0x100000000
  TEST_RR 49, czero_nez, 0x0, 0xffffffffffffffff, 0x100000000
  TEST_RR 50, czero_eqz, 0x0, 0x5, 0x0
  TEST_RR 51, czero_nez, 0x5, 0x5, 0x0
.endif
  # rd == rs1, and x0 as destination
  TEST_RR_SRC1 52, clmul, 0x40a0789828c810f0, 0x0123456789abcdef, 0xfedcba9876543210
.ifndef QEMU                     # no Zicond in QEMU 7.2
  TEST_RR_SRC1 53, czero_nez, 0x77, 0x77, 0
.endif
  TEST_RR_ZERO 54, xperm8, 0x0123456789abcdef, 0
.ifndef QEMU                     # no Zicond in QEMU 7.2
  TEST_RR_ZERO 55, czero_eqz, 5, 5
.endif
TEST_END
