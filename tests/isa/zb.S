# Zba, Zbb, Zbs: every instruction, including the .uw forms' zero-extension of rs1, the W forms'
# sign extension, clz/ctz/cpop of 0, rotate amounts masked to 6 (or 5) bits, and bit indexes
# taken modulo 64.
.include "vk.S"
TEST_BEGIN
  # Zba
  TEST_RR 1, add.uw, 0x100000005, 0xffffffff00000004, 0x100000001
  TEST_RR 2, sh1add, 0x7, 3, 1
  TEST_RR 3, sh2add, 0x11, 4, 1
  TEST_RR 4, sh3add, 0x8000000000000001, 0x1000000000000000, 1
  TEST_RR 5, sh1add.uw, 0x1fffffffe, 0xffffffffffffffff, 0
  TEST_RR 6, sh2add.uw, 0x400000000, 0x12345678ffffffff, 4
  TEST_RR 7, sh3add.uw, 0x800000000, 0xabcdef0100000000, 0x800000000
  TEST_RI 8, slli.uw, 0xffffffff0, 0x55555555ffffffff, 4
  TEST_RI 9, slli.uw, 0x8000000000000000, 0x80000001, 63
  # Zbb logic with negate
  TEST_RR 10, andn, 0xf0f0, 0xffff, 0x0f0f
  TEST_RR 11, orn, 0xfffffffffffff0ff, 0x00ff, 0x0f00
  TEST_RR 12, xnor, 0xfffffffffffff00f, 0x0ff0, 0x0000
  # counts
  TEST_R 13, clz, 64, 0
  TEST_R 14, clz, 0, -1
  TEST_R 15, clz, 31, 0x100000000
  TEST_R 16, clzw, 32, 0xffffffff00000000
  TEST_R 17, clzw, 0, 0x80000000
  TEST_R 18, ctz, 64, 0
  TEST_R 19, ctz, 63, 0x8000000000000000
  TEST_R 20, ctzw, 32, 0x100000000
  TEST_R 21, ctzw, 4, 0x10
  TEST_R 22, cpop, 64, -1
  TEST_R 23, cpop, 0, 0
  TEST_R 24, cpopw, 32, -1
  TEST_R 25, cpopw, 1, 0xff00000001
  # min/max
  TEST_RR 26, max, 1, -1, 1
  TEST_RR 27, maxu, -1, -1, 1
  TEST_RR 28, min, 0x8000000000000000, 0x8000000000000000, 0x7fffffffffffffff
  TEST_RR 29, minu, 1, -1, 1
  # extension
  TEST_R 30, sext.b, 0xffffffffffffff80, 0x1280
  TEST_R 31, sext.b, 0x7f, 0xffff7f
  TEST_R 32, sext.h, 0xffffffffffff8000, 0x18000
  TEST_R 33, zext.h, 0x8000, 0xffffffffffff8000
  # rotates
  TEST_RR 34, rol, 0x3456789abcdef012, 0x123456789abcdef0, 8
  TEST_RR 35, rol, 0x3456789abcdef012, 0x123456789abcdef0, 72
  TEST_RR 36, ror, 0xf0123456789abcde, 0x123456789abcdef0, 8
  TEST_RI 37, rori, 0x123456789abcdef0, 0x2468acf13579bde0, 1
  TEST_RI 38, rori, 0x8000000000000000, 1, 1
  TEST_RR 39, rolw, 0x00000001, 0x80000000, 1
  TEST_RR 40, rolw, 0xffffffff80000000, 0x40000000, 33
  TEST_RR 41, rorw, 0xffffffff80000000, 0x1, 1
  TEST_RI 42, roriw, 0x0000000012345678, 0xaa12345678, 0
  TEST_RI 43, roriw, 0xffffffff81234567, 0x12345678, 4
  # byte ops
  TEST_R 44, orc.b, 0xff00ff0000ffffff, 0x0100800000102030
  TEST_R 45, rev8, 0xf0debc9a78563412, 0x123456789abcdef0
  # Zbs
  TEST_RR 46, bclr, 0x7fffffffffffffff, -1, 63
  TEST_RR 47, bclr, 0xfffffffffffffffe, -1, 64
  TEST_RI 48, bclri, 0xfffffffffffffffb, -1, 2
  TEST_RR 49, bext, 1, 0x8000000000000000, 63
  TEST_RR 50, bext, 0, 0x8000000000000000, 62
  TEST_RI 51, bexti, 1, 0x100000000, 32
  TEST_RR 52, binv, 0x8000000000000001, 1, 63
  TEST_RI 53, binvi, 0, 0x10, 4
  TEST_RR 54, bset, 0x100000000, 0, 32
  TEST_RR 55, bset, 2, 0, 65
  TEST_RI 56, bseti, 0x8000000000000000, 0, 63
TEST_END
