# RV64M: multiply (all high-half variants with sign mixes), divide/remainder including division
# by zero (quotient all ones, remainder = dividend) and signed overflow (MIN / -1 = MIN, rem 0),
# and the W forms (32-bit operation, sign-extended result, upper source bits ignored).
.include "vk.S"
TEST_BEGIN
  TEST_RR 1, mul, 6, 2, 3
  TEST_RR 2, mul, 0x0000000000000001, -1, -1
  TEST_RR 3, mul, 0x8000000000000000, 0x4000000000000000, 2
  TEST_RR 4, mul, 0xfedcba9876543210, 0x0123456789abcdf0, -1
  TEST_RR 5, mulh, 0xffffffffffffffff, -1, 1
  TEST_RR 6, mulh, 0, -1, -1
  TEST_RR 7, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 8, mulh, 0xc000000000000000, 0x8000000000000000, 0x7fffffffffffffff
  TEST_RR 9, mulhu, 0xfffffffffffffffe, -1, -1
  TEST_RR 10, mulhu, 0x0000000000000001, 0x100000000, 0x100000000
  TEST_RR 11, mulhsu, 0xffffffffffffffff, -1, -1
  TEST_RR 12, mulhsu, 0, 1, -1
  TEST_RR 13, mulhsu, 0xc000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 14, mulh, 0xffeb49923cc09532, 0x123456789abcdef0, 0xfedcba9876543210
  TEST_RR 15, mulhu, 0x121fa00ad77d742, 0x123456789abcdef0, 0x0fedcba987654321
  TEST_RR 16, mulw, 0xffffffff80000000, 0x40000000, 2
  TEST_RR 17, mulw, 1, 0xffffffffffffffff, 0x12345678ffffffff
  TEST_RR 18, div, -3, 20, -6
  TEST_RR 19, div, 3, -20, -6
  TEST_RR 20, div, -3, -20, 6
  TEST_RR 21, div, -1, 5, 0
  TEST_RR 22, div, 0x8000000000000000, 0x8000000000000000, -1
  TEST_RR 23, divu, 0x2aaaaaaaaaaaaaa7, -20, 6
  TEST_RR 24, divu, -1, 5, 0
  TEST_RR 25, rem, 2, 20, -6
  TEST_RR 26, rem, -2, -20, 6
  TEST_RR 27, rem, 5, 5, 0
  TEST_RR 28, rem, 0, 0x8000000000000000, -1
  TEST_RR 29, remu, 2, -20, 6
  TEST_RR 30, remu, -20, -20, 0
  TEST_RR 31, divw, -3, 20, -6
  TEST_RR 32, divw, 0xffffffff80000000, 0x80000000, -1
  TEST_RR 33, divw, -1, 5, 0x100000000
  TEST_RR 34, divuw, 0x2aaaaaa7, 0xffffffec, 6
  TEST_RR 35, divuw, -1, 5, 0
  TEST_RR 36, divuw, 0xffffffff80000000, 0x80000000, 1
  TEST_RR 37, remw, -2, -20, 6
  TEST_RR 38, remw, 0, 0x80000000, -1
  TEST_RR 39, remw, 0xffffffff80000000, 0x80000000, 0
  TEST_RR 40, remuw, 2, 0xffffffec, 6
  TEST_RR 41, remuw, 0xffffffff80000001, 0x80000001, 0
  TEST_RR 42, remw, 5, 0x1234567800000005, 0x100000000
  TEST_RR_SRC1 43, mul, 0x30, 6, 8
  TEST_RR_ZERO 44, div, 5, 0
TEST_END
