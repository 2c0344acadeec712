# Interrupts: machine software interrupt via the CLINT's msip, machine timer via mtimecmp,
# priority when several are pending (MSI before MTI), the global enable rules (M interrupts are
# always enabled below M; mstatus.MIE gates them in M), vectored mtvec, delegated supervisor
# software/timer interrupts through mideleg (taken in S, never in M), and WFI waking on a
# pending-and-enabled interrupt even with mstatus.MIE = 0.
.include "vk.S"
.equ MIP_SSIP, 1 << 1
.equ MIP_MSIP, 1 << 3
.equ MIP_STIP, 1 << 5
.equ MIP_MTIP, 1 << 7

# Spin until an interrupt resumes at the armed label; fail after many iterations.
.macro WAIT_IRQ
  li a6, 5000000
9010:
  addi a6, a6, -1
  bnez a6, 9010b
  FAIL
.endm

TEST_BEGIN
  .option push
  .option norvc
  li s0, CLINT_MSIP
  li s1, CLINT_MTIMECMP
  li a1, -1
  sd a1, 0(s1)
  # Machine software interrupt: cause, mepc = the interrupted instruction.
  li gp, 1
  li a1, MIP_MSIP
  csrw mie, a1
  csrsi mstatus, MSTATUS_MIE
  EXPECT_TRAP IRQ_M_SOFT, 1f
  li a1, 1
  sw a1, 0(s0)
  WAIT_IRQ
1:
  CHECK s6, PRV_M
  # The trap cleared MIE and saved it in MPIE; MPP = M.
  li gp, 2
  csrr a4, mstatus
  andi a5, a4, MSTATUS_MIE | MSTATUS_MPIE
  CHECK a5, MSTATUS_MPIE
  csrr a4, mip
  andi a4, a4, MIP_MSIP
  CHECK a4, MIP_MSIP
  sw zero, 0(s0)
  csrr a4, mip
  andi a4, a4, MIP_MSIP
  CHECK a4, 0
  # Timer: mtimecmp = mtime + 100 ticks.
  li gp, 3
  li a2, CLINT_MTIME
  ld a3, 0(a2)
  addi a3, a3, 100
  sd a3, 0(s1)
  li a1, MIP_MTIP
  csrw mie, a1
  EXPECT_TRAP IRQ_M_TIMER, 2f
  csrsi mstatus, MSTATUS_MIE
  WAIT_IRQ
2:
  CHECK s6, PRV_M
  li a2, CLINT_MTIME
  ld a4, 0(a2)
  bltu a4, a3, vk_fail
  li a1, -1
  sd a1, 0(s1)
  csrr a4, mip
  andi a4, a4, MIP_MTIP
  CHECK a4, 0
  # Priority: with MSIP and MTIP both pending, MSI is taken first, then MTI.
  li gp, 4
  li a1, 1
  sw a1, 0(s0)
  sd zero, 0(s1)
  li a1, MIP_MTIP | MIP_MSIP
  csrw mie, a1
3:
  csrr a4, mip
  andi a4, a4, MIP_MTIP
  beqz a4, 3b
  EXPECT_TRAP IRQ_M_SOFT, 4f
  csrsi mstatus, MSTATUS_MIE
  FAIL
4:
  sw zero, 0(s0)
  li gp, 5
  EXPECT_TRAP IRQ_M_TIMER, 5f
  csrsi mstatus, MSTATUS_MIE
  FAIL
5:
  li a1, -1
  sd a1, 0(s1)
  # In M-mode with MIE = 0 nothing is taken; in U-mode M interrupts are taken regardless.
  li gp, 6
  li a1, MIP_MSIP
  csrw mie, a1
  li a1, 1
  sw a1, 0(s0)
  nop
  nop
  EXPECT_TRAP IRQ_M_SOFT, 6f
  GOTO_MODE PRV_U, 7f
7:
  WAIT_IRQ
6:
  CHECK s6, PRV_M
  csrr a4, mstatus
  li a5, MSTATUS_MPP
  and a4, a4, a5
  CHECK a4, 0
  sw zero, 0(s0)
  # Vectored mtvec: an interrupt with cause c goes to base + 4c; exceptions to base.
  li gp, 7
  la a1, vectors
  ori a1, a1, 1
  csrw mtvec, a1
  li s5, 0
  li a1, 1
  sw a1, 0(s0)
  EXPECT_TRAP IRQ_M_SOFT, 8f
  csrsi mstatus, MSTATUS_MIE
  FAIL
8:
  CHECK s5, 3
  sw zero, 0(s0)
  li gp, 8
  li s5, 0
  EXPECT_TRAP CAUSE_ECALL_M, 9f
  ecall
9:
  CHECK s5, 0
  la a1, vk_trap_m
  csrw mtvec, a1
  # WFI with mstatus.MIE = 0: wakes when an enabled interrupt is pending, takes no trap.
  li gp, 9
  li a1, MIP_MTIP
  csrw mie, a1
  li a2, CLINT_MTIME
  ld a3, 0(a2)
  addi a3, a3, 1000
  sd a3, 0(s1)
14:
  wfi
  csrr a4, mip
  andi a4, a4, MIP_MTIP
  beqz a4, 14b
  li a1, -1
  sd a1, 0(s1)
  # Supervisor software interrupt delegated to S: raised by M writing mip.SSIP; not taken in M
  # even with MIE = 1, taken in S when sstatus.SIE = 1.
  li gp, 10
  li a1, MIP_SSIP | MIP_STIP
  csrw mideleg, a1
  li a1, MIP_SSIP
  csrw mie, a1
  csrs mip, a1
  csrsi mstatus, MSTATUS_MIE
  nop
  nop
  csrci mstatus, MSTATUS_MIE
  EXPECT_TRAP IRQ_S_SOFT, 10f
  GOTO_MODE PRV_S, 11f
11:
  csrsi sstatus, MSTATUS_SIE
  WAIT_IRQ
10:
  CHECK s6, PRV_S
  # Back in S (the S handler resumed here) with SIE = 0: clear SSIP through sip.
  li gp, 11
  csrci sip, MIP_SSIP
  csrr a4, sip
  andi a4, a4, MIP_SSIP
  CHECK a4, 0
  BACK_TO_M PRV_S
  # Supervisor timer interrupt (M sets mip.STIP), delegated, taken in U with SIE = 0.
  li gp, 12
  li a1, MIP_STIP
  csrw mie, a1
  csrs mip, a1
  EXPECT_TRAP IRQ_S_TIMER, 12f
  GOTO_MODE PRV_U, 13f
13:
  WAIT_IRQ
12:
  CHECK s6, PRV_S
  BACK_TO_M PRV_S
  li a1, MIP_STIP
  csrc mip, a1
  csrw mie, zero
  csrw mideleg, zero
  .option pop
TEST_END

  .text
  .balign 256
  .option push
  .option norvc
vectors:
  j vk_trap_m
  j vec_other
  j vec_other
  j vec_msi
  .rept 12
  j vec_other
  .endr
vec_msi:
  li s5, 3
  j vk_trap_m
vec_other:
  li s5, 99
  j vk_trap_m
  .option pop
