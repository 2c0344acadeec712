# Privileged architecture, synchronous traps: illegal instruction, breakpoint, fetch/load/store
# access faults (mepc, mcause, mtval), ecall from U/S/M, delegation to S through medeleg (stval,
# sepc, sstatus.SPP/SPIE), medeleg bit 11 being read-only zero, mret/sret state transitions,
# xRET from a too-low privilege, TW/TSR/TVM, and mepc bit 0 always reading as zero.
.include "vk.S"
.equ NOWHERE, 0x0000100000000000
TEST_BEGIN
  .option push
  .option norvc
  # Illegal instruction (custom-0 opcode): mepc = the instruction, mtval = 0 or its encoding.
  li gp, 1
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
2:
  .word 0x0000000b
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  CHECK_ILLEGAL_TVAL 2b
  # ebreak
  li gp, 2
  EXPECT_TRAP CAUSE_BREAKPOINT, 3f
4:
  ebreak
  FAIL
3:
  CHECK_TRAP_AT PRV_M, 4b
  # Access faults: mtval = the faulting address.
  li gp, 3
  li a1, NOWHERE
  EXPECT_TRAP CAUSE_LOAD_ACCESS, 5f
6:
  ld a4, 8(a1)
  FAIL
5:
  CHECK_TRAP PRV_M, 6b, NOWHERE + 8
  li gp, 4
  EXPECT_TRAP CAUSE_STORE_ACCESS, 7f
8:
  sw a4, 16(a1)
  FAIL
7:
  CHECK_TRAP PRV_M, 8b, NOWHERE + 16
  li gp, 5
  EXPECT_TRAP CAUSE_FETCH_ACCESS, 9f
  jalr ra, 0(a1)
  FAIL
9:
  CHECK s8, NOWHERE
  CHECK s9, NOWHERE
  # ecall from M, S, U: causes 11, 9, 8; mtval = 0.
  li gp, 6
  EXPECT_TRAP CAUSE_ECALL_M, 10f
11:
  ecall
  FAIL
10:
  CHECK_TRAP PRV_M, 11b, 0
  li gp, 7
  GOTO_MODE PRV_S, 12f
12:
  EXPECT_TRAP CAUSE_ECALL_S, 13f
14:
  ecall
  FAIL
13:
  CHECK_TRAP PRV_M, 14b, 0
  # The trap from S left MPP = S and MPIE = the old MIE (0).
  li gp, 8
  csrr a4, mstatus
  li a5, MSTATUS_MPP
  and a5, a4, a5
  CHECK a5, (PRV_S << 11)
  li gp, 9
  GOTO_MODE PRV_U, 15f
15:
  EXPECT_TRAP CAUSE_ECALL_U, 16f
17:
  ecall
  FAIL
16:
  CHECK_TRAP PRV_M, 17b, 0
  csrr a4, mstatus
  li a5, MSTATUS_MPP
  and a5, a4, a5
  CHECK a5, 0
  # medeleg: bit 11 (ecall from M) is read-only zero; M-mode traps are never delegated.
  li gp, 10
  li a1, -1
  csrw medeleg, a1
.ifndef QEMU                     # QEMU 7.2 keeps medeleg[11] writable
  csrr a4, medeleg
  srli a4, a4, 11
  andi a4, a4, 1
  CHECK a4, 0
.endif
  EXPECT_TRAP CAUSE_ILLEGAL, 18f
  .word 0x0000000b
  FAIL
18:
  CHECK s6, PRV_M
  csrw medeleg, zero
  # Delegated ecall from U is handled in S: scause, sepc, stval; SPP = U; SPIE = old SIE.
  li gp, 11
  li a1, (1 << CAUSE_ECALL_U) | (1 << CAUSE_ILLEGAL)
  csrw medeleg, a1
  csrsi sstatus, MSTATUS_SIE
  GOTO_MODE PRV_U, 19f
19:
  EXPECT_TRAP CAUSE_ECALL_U, 20f
21:
  ecall
  FAIL
20:
  CHECK_TRAP PRV_S, 21b, 0
  li gp, 12
  csrr a4, sstatus
  andi a5, a4, MSTATUS_SPP
  CHECK a5, 0
  andi a5, a4, MSTATUS_SPIE
  CHECK a5, MSTATUS_SPIE
  andi a5, a4, MSTATUS_SIE
  CHECK a5, 0
  # Delegated illegal instruction from S: stval, and SPP = S.
  li gp, 13
  EXPECT_TRAP CAUSE_ILLEGAL, 22f
23:
  .word 0x0000000b
  FAIL
22:
  CHECK_TRAP_AT PRV_S, 23b
  CHECK_ILLEGAL_TVAL 23b
  csrr a4, sstatus
  andi a5, a4, MSTATUS_SPP
  CHECK a5, MSTATUS_SPP
  # sret to S: SIE = SPIE (1), SPIE = 1, SPP = U (least privileged).
  li gp, 14
  li a1, MSTATUS_SPIE
  csrs sstatus, a1
  csrci sstatus, MSTATUS_SIE
  li a1, MSTATUS_SPP
  csrs sstatus, a1
  la a1, 24f
  csrw sepc, a1
  sret
24:
  csrr a4, sstatus
  csrci sstatus, MSTATUS_SIE
  andi a5, a4, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
  CHECK a5, MSTATUS_SIE | MSTATUS_SPIE
  # sret to U with SPIE = 0 leaves SIE = 0, so the next trap into S records SPIE = 0, SPP = U.
  li gp, 15
  li a1, MSTATUS_SPIE
  csrc sstatus, a1
  la a1, 25f
  csrw sepc, a1
  sret
25:
  EXPECT_TRAP CAUSE_ECALL_U, 26f
  ecall
26:
  CHECK s6, PRV_S
  csrr a4, sstatus
  andi a5, a4, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP
  CHECK a5, 0
  # Back to M (ecall from S is not delegated). mret: MIE = MPIE, MPIE = 1, MPP = U.
  li gp, 16
  BACK_TO_M PRV_S
  csrw medeleg, zero
  li a1, MSTATUS_MPIE | MSTATUS_MPP
  csrs mstatus, a1
  csrci mstatus, MSTATUS_MIE
  la a1, 27f
  csrw mepc, a1
  mret
27:
  csrr a4, mstatus
  csrci mstatus, MSTATUS_MIE
  li a5, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP
  and a5, a4, a5
  CHECK a5, MSTATUS_MIE | MSTATUS_MPIE
  # mret to a mode below M clears MPRV.
  li gp, 17
  li a1, MSTATUS_MPRV
  csrs mstatus, a1
  GOTO_MODE PRV_S, 28f
28:
  BACK_TO_M PRV_S
.ifndef QEMU                     # QEMU 7.2 leaves MPRV set after an mret to S
  csrr a4, mstatus
  li a5, MSTATUS_MPRV
  and a4, a4, a5
  CHECK a4, 0
.else
  li a5, MSTATUS_MPRV
  csrc mstatus, a5
.endif
  # xRET from too low a privilege is illegal: sret in U, mret in S and U.
  li gp, 18
  GOTO_MODE PRV_U, 29f
29:
  EXPECT_TRAP CAUSE_ILLEGAL, 30f
31:
  sret
  FAIL
30:
  CHECK_TRAP_AT PRV_M, 31b
  li gp, 19
  GOTO_MODE PRV_S, 32f
32:
  EXPECT_TRAP CAUSE_ILLEGAL, 33f
34:
  mret
  FAIL
33:
  CHECK_TRAP_AT PRV_M, 34b
  # TSR: sret in S is illegal.
  li gp, 20
  li a1, MSTATUS_TSR
  csrs mstatus, a1
  GOTO_MODE PRV_S, 35f
35:
  EXPECT_TRAP CAUSE_ILLEGAL, 36f
37:
  sret
  FAIL
36:
  CHECK_TRAP_AT PRV_M, 37b
  li a1, MSTATUS_TSR
  csrc mstatus, a1
  # TVM: satp access and sfence.vma in S are illegal.
  li gp, 21
  li a1, MSTATUS_TVM
  csrs mstatus, a1
  GOTO_MODE PRV_S, 38f
38:
  EXPECT_TRAP CAUSE_ILLEGAL, 39f
40:
  csrr a4, satp
  FAIL
39:
  CHECK_TRAP_AT PRV_M, 40b
  li gp, 22
  GOTO_MODE PRV_S, 41f
41:
  EXPECT_TRAP CAUSE_ILLEGAL, 42f
43:
  sfence.vma
  FAIL
42:
  CHECK_TRAP_AT PRV_M, 43b
  li a1, MSTATUS_TVM
  csrc mstatus, a1
  # Without TVM, S may use satp and sfence.vma.
  li gp, 23
  GOTO_MODE PRV_S, 44f
44:
  csrr a4, satp
  sfence.vma
  BACK_TO_M PRV_S
  # TW: wfi in S is illegal (the allowed time limit before trapping is 0 here).
  li gp, 24
  li a1, MSTATUS_TW
  csrs mstatus, a1
  GOTO_MODE PRV_S, 45f
45:
  EXPECT_TRAP CAUSE_ILLEGAL, 46f
47:
  wfi
  FAIL
46:
  CHECK_TRAP_AT PRV_M, 47b
  li a1, MSTATUS_TW
  csrc mstatus, a1
  # mepc / sepc bit 0 is always zero (IALIGN = 16).
.ifndef QEMU                     # QEMU 7.2 reads back bit 0 as written
  li gp, 25
  li a1, 0x80000003
  csrw mepc, a1
  csrr a4, mepc
  CHECK a4, 0x80000002
  csrw sepc, a1
  csrr a4, sepc
  CHECK a4, 0x80000002
.endif
  # Delegated ecall from S lands in S.
  li gp, 26
  li a1, 1 << CAUSE_ECALL_S
  csrw medeleg, a1
  GOTO_MODE PRV_S, 48f
48:
  EXPECT_TRAP CAUSE_ECALL_S, 49f
50:
  ecall
  FAIL
49:
  CHECK_TRAP PRV_S, 50b, 0
  csrr a4, sstatus
  andi a5, a4, MSTATUS_SPP
  CHECK a5, MSTATUS_SPP
  .option pop
TEST_END
