# Zicsr: csrrw/s/c and immediate forms (old value returned, set/clear semantics), the "no write
# when rs1 = x0 / uimm = 0" rule that makes read-only CSRs readable, writes to read-only CSRs and
# unknown CSRs being illegal (mtval = 0 or the instruction), privilege checks on M-mode CSRs from
# S and U, misa/mstatus fixed fields, sstatus as a view of mstatus, fcsr/frm/fflags aliasing,
# and satp ignoring writes of unsupported modes. (QEMU 7.2 does not trap test 8, csrrs of a
# read-only CSR from a register holding 0; the spec says that is a write, so it must trap.)
.include "vk.S"
TEST_BEGIN
  .option push
  .option norvc
  li gp, 1
  li a1, 0x1234
  csrw mscratch, a1
  li a2, 0xffff0000ffff0000
  csrrw a4, mscratch, a2
  CHECK a4, 0x1234
  csrr a4, mscratch
  CHECK a4, 0xffff0000ffff0000
  li gp, 2
  li a1, 0xff
  csrrs a4, mscratch, a1
  CHECK a4, 0xffff0000ffff0000
  csrr a4, mscratch
  CHECK a4, 0xffff0000ffff00ff
  li gp, 3
  li a1, 0xffff00000000000f
  csrrc a4, mscratch, a1
  csrr a4, mscratch
  CHECK a4, 0x00000000ffff00f0
  li gp, 4
  csrwi mscratch, 0x1f
  csrrsi a4, mscratch, 0
  CHECK a4, 0x1f
  csrrci a4, mscratch, 0x3
  csrr a4, mscratch
  CHECK a4, 0x1c
  csrrsi a4, mscratch, 0x1
  csrr a4, mscratch
  CHECK a4, 0x1d
  # rd == rs1
  li gp, 5
  li a1, 77
  csrrw a1, mscratch, a1
  CHECK a1, 0x1d
  csrr a1, mscratch
  CHECK a1, 77

  # Read-only CSRs: reading with csrrs/csrrc rs1 = x0 or csrrsi uimm = 0 is fine...
  li gp, 6
  csrr a4, mhartid
  CHECK a4, 0
  csrrc a4, mhartid, x0
  csrrsi a4, mhartid, 0
  csrrci a4, mvendorid, 0
  # ...but csrrw, or csrrs with a non-x0 register (even holding 0), is an illegal write.
  li gp, 7
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
2:
  csrw mhartid, x0
  FAIL
1:
  la t5, 2b
  CHECK_EQ s8, t5
  CHECK_ILLEGAL_TVAL 2b
.ifndef QEMU                     # QEMU 7.2 takes csrrs with a zero-valued rs1 register as a read
  li gp, 8
  li a1, 0
  EXPECT_TRAP CAUSE_ILLEGAL, 3f
4:
  csrrs a4, mhartid, a1
  FAIL
3:
  CHECK_ILLEGAL_TVAL 4b
.endif
  li gp, 9
  EXPECT_TRAP CAUSE_ILLEGAL, 5f
6:
  csrrwi a4, cycle, 0
  FAIL
5:
  CHECK_ILLEGAL_TVAL 6b
  li gp, 10
  EXPECT_TRAP CAUSE_ILLEGAL, 7f
8:
  csrrsi a4, time, 1
  FAIL
7:
  # An unimplemented CSR number is illegal even to read.
  li gp, 11
  EXPECT_TRAP CAUSE_ILLEGAL, 9f
10:
  csrr a4, 0x8c0
  FAIL
9:
  CHECK_ILLEGAL_TVAL 10b

  # misa: MXL = 2 (64-bit) and the IMAFDC + S + U extension bits.
  li gp, 12
  csrr a4, misa
  srli a5, a4, 62
  CHECK a5, 2
  li a6, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20)
  and a5, a4, a6
  CHECK_EQ a5, a6
  # mstatus.UXL = SXL = 2 (64-bit U and S modes); SD mirrors FS = dirty.
  li gp, 13
  csrr a4, mstatus
  srli a5, a4, 32
  andi a5, a5, 0xf
  CHECK a5, 0xa
  li gp, 14
  li a1, MSTATUS_FS
  csrs mstatus, a1
  csrr a4, mstatus
  bgez a4, vk_fail
  # sstatus is a restricted view of mstatus.
  li gp, 15
  csrsi sstatus, MSTATUS_SIE
  csrr a4, mstatus
  andi a4, a4, MSTATUS_SIE
  CHECK a4, MSTATUS_SIE
  csrci mstatus, MSTATUS_SIE
  csrr a4, sstatus
  andi a4, a4, MSTATUS_SIE
  CHECK a4, 0
  li gp, 16
  li a1, MSTATUS_MPP | MSTATUS_MIE
  csrs mstatus, a1
  csrr a4, sstatus
  and a4, a4, a1
  CHECK a4, 0
  csrc mstatus, a1
  # fcsr = frm << 5 | fflags.
  li gp, 17
  li a1, 0xff
  csrw fcsr, a1
  csrr a4, fflags
  CHECK a4, 0x1f
  csrr a4, frm
  CHECK a4, 7
  li gp, 18
  csrwi frm, 2
  csrwi fflags, 0x5
  csrr a4, fcsr
  CHECK a4, 0x45
  li gp, 19
  li a1, 0x1ff
  csrw fcsr, a1
  csrr a4, fcsr
  CHECK a4, 0xff
  csrwi fcsr, 0
  # satp: a write selecting an unsupported mode (here 5, reserved) has no effect at all.
  li gp, 20
  csrw satp, zero
  li a1, (5 << 60) | 0x1234
  csrw satp, a1
  csrr a4, satp
  CHECK a4, 0
  # M-mode CSRs from S and U mode are illegal; S CSRs from U are illegal.
  li gp, 21
  GOTO_MODE PRV_S, 11f
11:
  EXPECT_TRAP CAUSE_ILLEGAL, 12f
13:
  csrr a4, mstatus
  FAIL
12:
  CHECK_TRAP_AT PRV_M, 13b
  CHECK_ILLEGAL_TVAL 13b
  li gp, 22
  GOTO_MODE PRV_S, 14f
14:
  csrr a4, sscratch
  csrw sscratch, a4
  BACK_TO_M PRV_S
  li gp, 23
  GOTO_MODE PRV_U, 15f
15:
  EXPECT_TRAP CAUSE_ILLEGAL, 16f
17:
  csrr a4, sstatus
  FAIL
16:
  CHECK_TRAP_AT PRV_M, 17b
  .option pop
TEST_END
