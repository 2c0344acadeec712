# RV64I loads and stores: every width, sign/zero extension, negative offsets, store merging
# within a doubleword, and misaligned accesses (either performed correctly, or trapping with
# cause 4/6 and mtval = the address: the spec allows both; virtkit and QEMU perform them).
.include "vk.S"

.macro TEST_LD n, inst, res, off, base=tdat
  li gp, \n
  la a1, \base
  \inst a4, \off(a1)
  CHECK a4, \res
.endm

TEST_BEGIN
  TEST_LD 1, lb, 0xffffffffffffff80, 0
  TEST_LD 2, lbu, 0x80, 0
  TEST_LD 3, lb, 0x7f, 1
  TEST_LD 4, lh, 0xffffffffffff8001, 2
  TEST_LD 5, lhu, 0x8001, 2
  TEST_LD 6, lw, 0xffffffff80000002, 4
  TEST_LD 7, lwu, 0x80000002, 4
  TEST_LD 8, ld, 0x8000000000000003, 8
  TEST_LD 9, lw, 0x7ffffff0, 16
  TEST_LD 10, ld, 0x8000000000000003, -8, tdat_end16
  TEST_LD 11, lh, 0x7f80, 0

  # Stores write exactly their width.
  li gp, 12
  la a1, sdat
  li a2, -1
  sd a2, 0(a1)
  li a2, 0x12
  sb a2, 1(a1)
  li a2, 0x3456
  sh a2, 2(a1)
  li a2, 0x789abcde
  sw a2, 4(a1)
  ld a4, 0(a1)
  CHECK a4, 0x789abcde345612ff
  li gp, 13
  li a2, 0x1122334455667788
  sd a2, 8(a1)
  lw a4, 8(a1)
  CHECK a4, 0x55667788
  lw a4, 12(a1)
  CHECK a4, 0x11223344
  li gp, 14
  sw a2, -4(a1)
  la a5, sdat
  lwu a4, -4(a5)
  CHECK a4, 0x55667788

  # Store then load with a register used as both base and data.
  li gp, 15
  la a1, sdat
  sd a1, 16(a1)
  ld a4, 16(a1)
  CHECK_EQ a4, a1

  # Misaligned accesses.
  li gp, 16
  la a1, mdat
  EXPECT_TRAP CAUSE_MISALIGNED_LOAD, 20f
  lw a4, 1(a1)
  li s10, -1
  CHECK a4, 0x44332211
  j 21f
20:
  addi a5, a1, 1
  CHECK_EQ s9, a5
21:
  li gp, 17
  EXPECT_TRAP CAUSE_MISALIGNED_LOAD, 22f
  ld a4, 3(a1)
  li s10, -1
  CHECK a4, 0xaa99887766554433
  j 23f
22:
  addi a5, a1, 3
  CHECK_EQ s9, a5
23:
  li gp, 18
  EXPECT_TRAP CAUSE_MISALIGNED_LOAD, 24f
  lh a4, 7(a1)
  li s10, -1
  CHECK a4, 0xffffffffffff8877
  j 25f
24:
  addi a5, a1, 7
  CHECK_EQ s9, a5
25:
  li gp, 19
  EXPECT_TRAP CAUSE_MISALIGNED_STORE, 26f
  li a2, 0xdeadbeefcafef00d
  sd a2, 17(a1)
  li s10, -1
  ld a4, 16(a1)
  CHECK a4, 0xadbeefcafef00d00
  lbu a4, 24(a1)
  CHECK a4, 0xde
  j 27f
26:
  addi a5, a1, 17
  CHECK_EQ s9, a5
27:
TEST_END

  .data
  .balign 8
tdat:
  .byte 0x80, 0x7f
  .half 0x8001
  .word 0x80000002
  .dword 0x8000000000000003
tdat_end16:
  .word 0x7ffffff0
  .word 0
  .dword 0
sdat:
  .skip 32
mdat:
  .byte 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
  .skip 16
