# RV64I integer computation: add/sub/logic/shifts/compares, the 32-bit W forms (sign extension of
# the 32-bit result), lui/auipc, and writes to x0.
.include "vk.S"
TEST_BEGIN
  TEST_RR 1, add, 3, 1, 2
  TEST_RR 2, add, 0, -1, 1
  TEST_RR 3, add, 0x8000000000000000, 0x7fffffffffffffff, 1
  TEST_RR 4, sub, -1, 1, 2
  TEST_RR 5, sub, 0x7fffffffffffffff, 0x8000000000000000, 1
  TEST_RI 6, addi, 0x7ff, 0, 0x7ff
  TEST_RI 7, addi, -2048, 0, -2048
  TEST_RI 8, addi, 0xffffffff, 0x100000000, -1
  TEST_RR 9, addw, 0xffffffff80000000, 0x7fffffff, 1
  TEST_RR 10, addw, 0, 0xffffffff, 1
  TEST_RR 11, subw, 0x7fffffff, 0x80000000, 1
  TEST_RI 12, addiw, 0xffffffff80000000, 0x7fffffff, 1
  TEST_RI 13, addiw, 0x12345678, 0xabcdef0012345678, 0
  TEST_RR 14, and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f
  TEST_RR 15, or, 0xff0fff0f, 0xff00ff00, 0x0f0f0f0f
  TEST_RR 16, xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f
  TEST_RI 17, andi, 0xff00ff00, 0xff00ff00, -1
  TEST_RI 18, ori, -1, 0xff00ff00, -1
  TEST_RI 19, xori, 0xffffffff00ff00ff, 0xff00ff00, -1
  TEST_RI 20, andi, 0x00, 0xff00ff00, 0x0f0
  TEST_RR 21, sll, 0x8000000000000000, 1, 63
  TEST_RR 22, sll, 2, 1, 65
  TEST_RR 23, srl, 1, 0x8000000000000000, 63
  TEST_RR 24, sra, -1, 0x8000000000000000, 63
  TEST_RR 25, sra, 0xc000000000000000, 0x8000000000000000, 0xffffffffffffffc1
  TEST_RI 26, slli, 0x100000000, 1, 32
  TEST_RI 27, srli, 0x0000ffffffffffff, -1, 16
  TEST_RI 28, srai, 0xffffffffffff8000, 0x8000000000000000, 48
  TEST_RR 29, sllw, 0xffffffff80000000, 1, 31
  TEST_RR 30, sllw, 2, 1, 33
  TEST_RR 31, srlw, 1, 0xffffffff80000000, 31
  TEST_RR 32, srlw, 0xffffffff80000000, 0x80000000, 32
  TEST_RR 33, sraw, 0xffffffffffffffff, 0x80000000, 31
  TEST_RR 34, sraw, 0x3fffffff, 0x123456787fffffff, 1
  TEST_RI 35, slliw, 0xffffffff80000000, 0xffffffff, 31
  TEST_RI 36, srliw, 0x7fffffff, 0xffffffff, 1
  TEST_RI 37, sraiw, 0xfffffffffffffff8, 0x80000000, 28
  TEST_RI 38, srliw, 0xffffffff80000000, 0x80000000, 0
  TEST_RR 39, slt, 1, -1, 0
  TEST_RR 40, slt, 0, 0, -1
  TEST_RR 41, sltu, 0, -1, 0
  TEST_RR 42, sltu, 1, 0, -1
  TEST_RI 43, slti, 1, 0x8000000000000000, -1
  TEST_RI 44, sltiu, 1, 5, -1
  TEST_RI 45, sltiu, 0, -1, -1
  TEST_RR_SRC1 46, add, 0x30, 0x10, 0x20
  TEST_RR_SRC1 47, sub, -0x10, 0x10, 0x20
  TEST_RR_ZERO 48, add, 5, 6
  TEST_RR_ZERO 49, sll, 1, 3
  # lui: sign-extended 32-bit result
  li gp, 50
  lui a4, 0x80000
  CHECK a4, 0xffffffff80000000
  li gp, 51
  lui a4, 0x7ffff
  CHECK a4, 0x7ffff000
  # auipc: pc-relative, sign-extended offset
  li gp, 52
1:
  auipc a4, 0
  la a5, 1b
  CHECK_EQ a4, a5
  li gp, 53
2:
  auipc a4, 0xfffff
  la a5, 2b
  li a6, -4096
  add a5, a5, a6
  CHECK_EQ a4, a5
  # x0 is hard-wired
  li gp, 54
  addi x0, x0, 5
  lui x0, 0x12345
  CHECK x0, 0
  # nop forms and hint encodings (addi x0) do nothing
  li gp, 55
  li a4, 7
  nop
  CHECK a4, 7
TEST_END
