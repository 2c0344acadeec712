# RV64I control transfer: every conditional branch taken and not taken (signed/unsigned edge
# cases), backward branches, jal/jalr link values, jalr clearing bit 0 of the target, rd == rs1.
.include "vk.S"

# Branch taken: \inst on (v1, v2) must branch.
.macro TEST_BR_TAKEN n, inst, v1, v2
  li gp, \n
  li a1, \v1
  li a2, \v2
  \inst a1, a2, 8100f
  FAIL
8100:
.endm

# Branch not taken: \inst must fall through.
.macro TEST_BR_NOT n, inst, v1, v2
  li gp, \n
  li a1, \v1
  li a2, \v2
  \inst a1, a2, 8101f
  j 8102f
8101:
  FAIL
8102:
.endm

TEST_BEGIN
  TEST_BR_TAKEN 1, beq, 5, 5
  TEST_BR_NOT 2, beq, 5, 6
  TEST_BR_NOT 3, beq, 0x100000005, 5
  TEST_BR_TAKEN 4, bne, 0x100000005, 5
  TEST_BR_NOT 5, bne, -1, -1
  TEST_BR_TAKEN 6, blt, -1, 0
  TEST_BR_NOT 7, blt, 0, -1
  TEST_BR_NOT 8, blt, 3, 3
  TEST_BR_TAKEN 9, blt, 0x8000000000000000, 0x7fffffffffffffff
  TEST_BR_TAKEN 10, bge, 0, -1
  TEST_BR_TAKEN 11, bge, 3, 3
  TEST_BR_NOT 12, bge, -1, 0
  TEST_BR_TAKEN 13, bltu, 0, -1
  TEST_BR_NOT 14, bltu, -1, 0
  TEST_BR_NOT 15, bltu, 7, 7
  TEST_BR_TAKEN 16, bgeu, -1, 0
  TEST_BR_TAKEN 17, bgeu, 7, 7
  TEST_BR_NOT 18, bgeu, 0x7fffffffffffffff, 0x8000000000000000

  # Backward branch loop: count down 10 iterations.
  li gp, 19
  li a1, 10
  li a2, 0
1:
  addi a2, a2, 1
  addi a1, a1, -1
  bnez a1, 1b
  CHECK a2, 10

  # jal links pc + 4 and jumps.
  li gp, 20
  jal a3, 2f
3:
  FAIL
2:
  la a4, 3b
  CHECK_EQ a3, a4

  # jal x0 (plain j) leaves no link.
  li gp, 21
  li ra, 0
  j 4f
  FAIL
4:
  CHECK ra, 0

  # jalr: target = rs1 + imm with bit 0 cleared; link = pc + 4.
  li gp, 22
  la a1, 5f
  addi a1, a1, 1
  jalr a2, a1, 0
6:
  FAIL
  .balign 4
5:
  la a4, 6b
  CHECK_EQ a2, a4

  li gp, 23
  la a1, 7f
  addi a1, a1, -8
  jalr a2, a1, 8
  FAIL
  .balign 4
7:
  # rd == rs1: the target uses the old value.
  li gp, 24
  la a1, 8f
  jalr a1, a1, 0
9:
  FAIL
  .balign 4
8:
  la a4, 9b
  CHECK_EQ a1, a4

  # Branch over a long distance (beyond 4 KiB) through the assembler's relaxation-free j.
  li gp, 25
  j 10f
  .skip 8192
10:
  # Misaligned jump target (bit 1 set) traps only without C; with C (our misa) it is fine.
  li gp, 26
  la a1, 11f
  jr a1
  FAIL
  .balign 4
  .option push
  .option norvc
11:
  nop
  .option pop
TEST_END
