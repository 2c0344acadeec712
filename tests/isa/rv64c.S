# RV64C: every RV64C (and RV64DC) encoding written out explicitly with c.* mnemonics, 32-bit
# instructions at 2-byte-aligned addresses, and the reserved all-zero halfword (illegal).
.include "vk.S"
TEST_BEGIN
  .option push
  .option rvc
  la sp, cdat
  # c.addi4spn / c.addi16sp
  li gp, 1
  c.addi4spn a0, sp, 16
  addi a1, sp, 16
  CHECK_EQ a0, a1
  li gp, 2
  mv a2, sp
  c.addi16sp sp, -64
  addi a2, a2, -64
  CHECK_EQ sp, a2
  c.addi16sp sp, 64
  # c.li / c.lui / c.addi / c.addiw / c.nop
  li gp, 3
  c.li a0, -32
  CHECK a0, -32
  li gp, 4
  c.lui a0, 0xfffe0
  CHECK a0, 0xfffffffffffe0000
  li gp, 5
  c.lui a1, 1
  CHECK a1, 0x1000
  li gp, 6
  c.li a0, 5
  c.addi a0, -6
  CHECK a0, -1
  li gp, 7
  li a0, 0x7fffffff
  c.addiw a0, 1
  CHECK a0, 0xffffffff80000000
  li gp, 8
  li a0, 0x1ffffffff
  c.addiw a0, 0
  CHECK a0, -1
  c.nop
  # c.slli / c.srli / c.srai / c.andi
  li gp, 9
  li a0, 1
  c.slli a0, 63
  CHECK a0, 0x8000000000000000
  li gp, 10
  c.srai a0, 60
  CHECK a0, -8
  li gp, 11
  c.srli a0, 60
  CHECK a0, 0xf
  li gp, 12
  li a0, -1
  c.andi a0, 0x15
  CHECK a0, 0x15
  li gp, 13
  li a0, -1
  c.andi a0, -2
  CHECK a0, -2
  # register-register forms
  li gp, 14
  li a0, 10
  li a1, 3
  c.sub a0, a1
  CHECK a0, 7
  li gp, 15
  li a0, 0xff
  li a1, 0x0f
  c.xor a0, a1
  CHECK a0, 0xf0
  li gp, 16
  c.or a0, a1
  CHECK a0, 0xff
  li gp, 17
  c.and a0, a1
  CHECK a0, 0x0f
  li gp, 18
  li a0, 0x80000000
  li a1, 1
  c.subw a0, a1
  CHECK a0, 0x7fffffff
  li gp, 19
  c.addw a0, a1
  CHECK a0, 0xffffffff80000000
  li gp, 20
  li a3, 0x123
  c.mv a4, a3
  CHECK a4, 0x123
  li gp, 21
  c.add a4, a3
  CHECK a4, 0x246
  # loads / stores, register based
  li gp, 22
  la s0, cdat
  li a1, 0x80000001
  c.sw a1, 4(s0)
  c.lw a2, 4(s0)
  CHECK a2, 0xffffffff80000001
  li gp, 23
  li a1, 0x8877665544332211
  c.sd a1, 8(s0)
  c.ld a2, 8(s0)
  CHECK_EQ a1, a2
  li gp, 24
  li a1, 0x400921fb54442d18
  fmv.d.x fa0, a1
  c.fsd fa0, 16(s0)
  c.fld fa1, 16(s0)
  fmv.x.d a2, fa1
  CHECK_EQ a1, a2
  # stack-pointer based
  li gp, 25
  la sp, cdat
  li a1, 0xfedcba9876543210
  c.sdsp a1, 32(sp)
  c.ldsp a2, 32(sp)
  CHECK_EQ a1, a2
  li gp, 26
  c.swsp a1, 40(sp)
  c.lwsp a3, 40(sp)
  CHECK a3, 0x76543210
  li gp, 27
  c.fsdsp fa0, 48(sp)
  c.fldsp fa2, 48(sp)
  fmv.x.d a2, fa2
  li a1, 0x400921fb54442d18
  CHECK_EQ a1, a2
  # control transfer
  li gp, 28
  c.j 1f
  FAIL
1:
  li gp, 29
  li a0, 0
  c.beqz a0, 2f
  FAIL
2:
  li a0, 1
  c.beqz a0, 3f
  c.bnez a0, 4f
3:
  FAIL
4:
  li gp, 30
  li a0, 0
  c.bnez a0, 3b
  li gp, 31
  la a1, 5f
  c.jr a1
  FAIL
5:
  li gp, 32
  la a1, 6f
  c.jalr a1
7:
  FAIL
6:
  la a2, 7b
  CHECK_EQ ra, a2
  # c.ebreak traps with cause 3 and mepc = its address.
  li gp, 33
  EXPECT_TRAP CAUSE_BREAKPOINT, 8f
9:
  c.ebreak
  FAIL
8:
  la a2, 9b
  CHECK_EQ s8, a2
  # 32-bit instruction at a 2-byte (not 4-byte) aligned address.
  li gp, 34
  .balign 4
  c.nop
  addi a0, zero, 77
  CHECK a0, 77
  # The all-zero halfword is illegal (mtval 0 or the instruction bits, both 0 here).
  li gp, 35
  EXPECT_TRAP CAUSE_ILLEGAL, 10f
11:
  .half 0
  FAIL
10:
  CHECK_TRAP PRV_M, 11b, 0
  # c.addi4spn with a zero immediate is reserved (any other bits non-zero: encoding 0x0004).
  li gp, 36
  EXPECT_TRAP CAUSE_ILLEGAL, 12f
13:
  .half 0x0010
  FAIL
12:
  la a2, 13b
  CHECK_EQ s8, a2
  .option pop
TEST_END

  .data
  .balign 64
cdat: .skip 128
