# virtkit ISA test framework (GNU as macros; assemble with -I tests/isa/include). Named .S so
# formatters leave it alone (a .inc file is taken for HTML); it is only ever .include-d.
#
# A test file looks like:
#     .include "vk.S"
#     TEST_BEGIN
#     TEST_RR 1, add, 3, 1, 2          # test 1: add 1 + 2 must give 3
#     ...
#     TEST_END                          # all passed
#
# Conventions (modelled on riscv-tests, written from scratch):
# - gp holds the number of the test being run; a failure reports it.
# - Result reporting: the HTIF `tohost` word ((code << 1) | 1; code 0 = pass) AND the SiFive test
#   finisher at 0x100000 (0x5555 pass, 0x3333 | code << 16 fail), so the same ELF ends the run on
#   virtkit (either mechanism) and on `qemu-system-riscv64 -M virt -bios none` (the finisher).
#   Assembled with --defsym VK_UART_REPORT=1 (tests/isa/qemu.test.ts does), the result is also
#   printed on the UART ("VK PASS" / "VK FAIL <test number in hex>"): QEMU's exit status keeps
#   only the low 8 bits of the code, so a failing test 256 would look like a pass. A file may
#   leave out checks on which QEMU departs from the specification with `.ifndef QEMU`
#   (--defsym QEMU=1); each says why, and docs/isa-tests.md lists them.
# - Expected traps: EXPECT_TRAP cause, resume arms the trap handlers; when the next trap has that
#   mcause/scause, the handler records it and jumps to `resume` in the handler's mode (M or S),
#   without mret. An unexpected trap fails the current test. The framework uses only registers, so
#   it works in any mode and under any page table:
#     s6 = mode that handled the trap (3 = M, 1 = S), s7 = cause, s8 = epc, s9 = tval,
#     s10 = armed cause (-1 = none), s11 = resume address. The handlers clobber t0.
#   Tests must not use gp, s6-s11 or t0 for their own values across a trap.
# - Startup: M-mode, mtvec = vk_trap_m, stvec = vk_trap_s, PMP entry 0 opens all memory to S/U
#   (skipped if PMP is absent), mstatus.FS = Initial, sp = top of a 4 KiB stack.

.equ FINISHER, 0x100000
.equ CLINT_MSIP, 0x2000000
.equ CLINT_MTIMECMP, 0x2004000
.equ CLINT_MTIME, 0x200bff8

.equ CAUSE_MISALIGNED_FETCH, 0
.equ CAUSE_FETCH_ACCESS, 1
.equ CAUSE_ILLEGAL, 2
.equ CAUSE_BREAKPOINT, 3
.equ CAUSE_MISALIGNED_LOAD, 4
.equ CAUSE_LOAD_ACCESS, 5
.equ CAUSE_MISALIGNED_STORE, 6
.equ CAUSE_STORE_ACCESS, 7
.equ CAUSE_ECALL_U, 8
.equ CAUSE_ECALL_S, 9
.equ CAUSE_ECALL_M, 11
.equ CAUSE_FETCH_PAGE, 12
.equ CAUSE_LOAD_PAGE, 13
.equ CAUSE_STORE_PAGE, 15
.equ IRQ_S_SOFT, 0x8000000000000001
.equ IRQ_M_SOFT, 0x8000000000000003
.equ IRQ_S_TIMER, 0x8000000000000005
.equ IRQ_M_TIMER, 0x8000000000000007

.equ MSTATUS_SIE, 0x2
.equ MSTATUS_MIE, 0x8
.equ MSTATUS_SPIE, 0x20
.equ MSTATUS_MPIE, 0x80
.equ MSTATUS_SPP, 0x100
.equ MSTATUS_MPP, 0x1800
.equ MSTATUS_FS, 0x6000
.equ MSTATUS_MPRV, 0x20000
.equ MSTATUS_SUM, 0x40000
.equ MSTATUS_MXR, 0x80000
.equ MSTATUS_TVM, 0x100000
.equ MSTATUS_TW, 0x200000
.equ MSTATUS_TSR, 0x400000

.equ PRV_U, 0
.equ PRV_S, 1
.equ PRV_M, 3

# ---------------------------------------------------------------------------------------------
# Program structure

.macro TEST_BEGIN
  .section .text.init, "ax", @progbits
  .globl _start
_start:
  li gp, 0
  li s10, -1
  .balign 4
  la t0, 1f
  csrw mtvec, t0
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  .balign 4
1:
  la t0, vk_trap_m
  csrw mtvec, t0
  la t0, vk_trap_s
  csrw stvec, t0
  csrwi medeleg, 0
  csrwi mideleg, 0
  csrwi mie, 0
  li t0, 0x2000
  csrs mstatus, t0
  csrwi fcsr, 0
  la sp, vk_stack_top
  j vk_main
  .text
vk_main:
.endm

.macro TEST_END
  j vk_pass

  .balign 4
vk_trap_m:
  csrr s7, mcause
  csrr s8, mepc
  csrr s9, mtval
  li s6, 3
  bne s7, s10, vk_fail
  li s10, -1
  jr s11

  .balign 4
vk_trap_s:
  csrr s7, scause
  csrr s8, sepc
  csrr s9, stval
  li s6, 1
  bne s7, s10, vk_fail
  li s10, -1
  jr s11

vk_fail:
  bnez gp, 1f
  li gp, 999
1:
.ifdef VK_UART_REPORT
  # Reporting for QEMU, whose exit status keeps only 8 bits of the code: "VK FAIL <gp in hex>"
  # on the UART. Disarmed first: if the UART is out of reach in this mode, the fault ends here
  # again in M-mode, which prints.
  li s10, -1
  li t1, 0x10000000
  .irp c, 0x56, 0x4b, 0x20, 0x46, 0x41, 0x49, 0x4c, 0x20
    li t0, \c
    sb t0, 0(t1)
  .endr
  li t2, 60
2:
  srl t0, gp, t2
  andi t0, t0, 15
  addi t0, t0, 0x30
  li t3, 0x3a
  bltu t0, t3, 3f
  addi t0, t0, 0x27
3:
  sb t0, 0(t1)
  addi t2, t2, -4
  bgez t2, 2b
  li t0, 10
  sb t0, 0(t1)
.endif
  slli t0, gp, 1
  ori t0, t0, 1
  la t1, tohost
  sd t0, 0(t1)
  slli t0, gp, 16
  li t1, 0x3333
  or t0, t0, t1
  li t1, FINISHER
  sw t0, 0(t1)
2:
  j 2b

vk_pass:
.ifdef VK_UART_REPORT
  li t1, 0x10000000
  .irp c, 0x56, 0x4b, 0x20, 0x50, 0x41, 0x53, 0x53, 0x0a
    li t0, \c
    sb t0, 0(t1)
  .endr
.endif
  li t0, 1
  la t1, tohost
  sd t0, 0(t1)
  li t0, 0x5555
  li t1, FINISHER
  sw t0, 0(t1)
3:
  j 3b

  .section .tohost, "aw", @progbits
  .balign 64
  .globl tohost
tohost: .dword 0
  .balign 64
  .globl fromhost
fromhost: .dword 0

  .bss
  .balign 16
vk_stack: .skip 4096
vk_stack_top:
  .text
.endm

# ---------------------------------------------------------------------------------------------
# Checks. Branches go through `j` so a check can be any distance from vk_fail.

# Fails the current test unless register \reg equals \val (any 64-bit constant). Uses t6.
.macro CHECK reg, val
  li t6, \val
  beq \reg, t6, 9001f
  j vk_fail
9001:
.endm

# Fails unless two registers are equal.
.macro CHECK_EQ a, b
  beq \a, \b, 9002f
  j vk_fail
9002:
.endm

.macro FAIL
  j vk_fail
.endm

.macro TESTNUM n
  li gp, \n
.endm

# Register-register op: \inst a4, a1, a2 with a1 = \v1, a2 = \v2; expect \res.
.macro TEST_RR n, inst, res, v1, v2
  li gp, \n
  li a1, \v1
  li a2, \v2
  \inst a4, a1, a2
  CHECK a4, \res
.endm

# Same, with rd == rs1 (checks the read happens before the write).
.macro TEST_RR_SRC1 n, inst, res, v1, v2
  li gp, \n
  li a1, \v1
  li a2, \v2
  \inst a1, a1, a2
  CHECK a1, \res
.endm

# Register-immediate op.
.macro TEST_RI n, inst, res, v1, imm
  li gp, \n
  li a1, \v1
  \inst a4, a1, \imm
  CHECK a4, \res
.endm

# Unary op.
.macro TEST_R n, inst, res, v1
  li gp, \n
  li a1, \v1
  \inst a4, a1
  CHECK a4, \res
.endm

# Writing x0 must have no effect.
.macro TEST_RR_ZERO n, inst, v1, v2
  li gp, \n
  li a1, \v1
  li a2, \v2
  \inst x0, a1, a2
  CHECK x0, 0
.endm

# EXPECT_TRAP cause, resume: the next trap must have this cause; the handler jumps to \resume.
.macro EXPECT_TRAP cause, resume
  li s10, \cause
  la s11, \resume
.endm

# After resuming from an expected trap: check handler mode, epc (a label) and tval.
.macro CHECK_TRAP mode, epc_label, tval
  CHECK s6, \mode
  la t5, \epc_label
  CHECK_EQ s8, t5
  CHECK s9, \tval
.endm

# Enter privilege \mode at \label via mret (from M-mode). Clobbers t0.
.macro GOTO_MODE mode, label
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (\mode << 11)
  csrs mstatus, t0
  la t0, \label
  csrw mepc, t0
  mret
.endm

# From U or S (ecall not delegated) back to M-mode at the next instruction. \from = PRV_U/PRV_S.
.macro BACK_TO_M from
  EXPECT_TRAP (8 + \from), 9003f
  ecall
9003:
.endm

# ---------------------------------------------------------------------------------------------
# Floating point: values are raw IEEE bit patterns. fflags is cleared before and checked after.

# Double op with 2 sources: \inst fa0, fa1, fa2 (\rm optional rounding mode suffix via inst).
.macro TEST_FD2 n, inst, res, flags, v1, v2
  li gp, \n
  li t1, \v1
  fmv.d.x fa1, t1
  li t1, \v2
  fmv.d.x fa2, t1
  csrwi fflags, 0
  \inst fa0, fa1, fa2
  fmv.x.d a4, fa0
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FD1 n, inst, res, flags, v1
  li gp, \n
  li t1, \v1
  fmv.d.x fa1, t1
  csrwi fflags, 0
  \inst fa0, fa1
  fmv.x.d a4, fa0
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FD3 n, inst, res, flags, v1, v2, v3
  li gp, \n
  li t1, \v1
  fmv.d.x fa1, t1
  li t1, \v2
  fmv.d.x fa2, t1
  li t1, \v3
  fmv.d.x fa3, t1
  csrwi fflags, 0
  \inst fa0, fa1, fa2, fa3
  fmv.x.d a4, fa0
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

# Double compare / classify / convert-to-int: the result lands in an integer register.
.macro TEST_FD2_INT n, inst, res, flags, v1, v2
  li gp, \n
  li t1, \v1
  fmv.d.x fa1, t1
  li t1, \v2
  fmv.d.x fa2, t1
  csrwi fflags, 0
  \inst a4, fa1, fa2
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

# \inst a4, fa1 [, rm]: pass the rm as part of a macro-arg string, e.g. "fcvt.w.d", ", rtz".
.macro TEST_FD_TOINT n, inst, res, flags, v1, rm=dyn
  li gp, \n
  li t1, \v1
  fmv.d.x fa1, t1
  csrwi fflags, 0
  \inst a4, fa1, \rm
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FD_FROMINT n, inst, res, flags, v1, rm=dyn
  li gp, \n
  li a1, \v1
  csrwi fflags, 0
  \inst fa0, a1, \rm
  fmv.x.d a4, fa0
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

# Single precision: sources are 32-bit patterns, NaN-boxed by fmv.w.x; results are checked as the
# full 64-bit register (so NaN-boxing of results is verified too) via fmv.x.d.
.macro TEST_FS2 n, inst, res, flags, v1, v2
  li gp, \n
  li t1, \v1
  fmv.w.x fa1, t1
  li t1, \v2
  fmv.w.x fa2, t1
  csrwi fflags, 0
  \inst fa0, fa1, fa2
  fmv.x.d a4, fa0
  CHECK a4, (0xffffffff00000000 | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FS1 n, inst, res, flags, v1
  li gp, \n
  li t1, \v1
  fmv.w.x fa1, t1
  csrwi fflags, 0
  \inst fa0, fa1
  fmv.x.d a4, fa0
  CHECK a4, (0xffffffff00000000 | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FS3 n, inst, res, flags, v1, v2, v3
  li gp, \n
  li t1, \v1
  fmv.w.x fa1, t1
  li t1, \v2
  fmv.w.x fa2, t1
  li t1, \v3
  fmv.w.x fa3, t1
  csrwi fflags, 0
  \inst fa0, fa1, fa2, fa3
  fmv.x.d a4, fa0
  CHECK a4, (0xffffffff00000000 | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FS2_INT n, inst, res, flags, v1, v2
  li gp, \n
  li t1, \v1
  fmv.w.x fa1, t1
  li t1, \v2
  fmv.w.x fa2, t1
  csrwi fflags, 0
  \inst a4, fa1, fa2
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FS_TOINT n, inst, res, flags, v1, rm=dyn
  li gp, \n
  li t1, \v1
  fmv.w.x fa1, t1
  csrwi fflags, 0
  \inst a4, fa1, \rm
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FS_FROMINT n, inst, res, flags, v1, rm=dyn
  li gp, \n
  li a1, \v1
  csrwi fflags, 0
  \inst fa0, a1, \rm
  fmv.x.d a4, fa0
  CHECK a4, (0xffffffff00000000 | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

# After an expected illegal-instruction trap at \label (a 32-bit instruction): mtval/stval must
# be 0 or the instruction's encoding (both are allowed by the privileged spec). Uses t4, t5.
.macro CHECK_ILLEGAL_TVAL label
  la t5, \label
  lwu t4, 0(t5)
  beqz s9, 9004f
  CHECK_EQ s9, t4
9004:
.endm

# After resuming from an expected trap: check the handler mode and epc only.
.macro CHECK_TRAP_AT mode, epc_label
  CHECK s6, \mode
  la t5, \epc_label
  CHECK_EQ s8, t5
.endm

# Double op with an explicit static rounding mode: \inst fa0, fa1, fa2, \rm.
.macro TEST_FD2_RM n, inst, rm, res, flags, v1, v2
  li gp, \n
  li t1, \v1
  fmv.d.x fa1, t1
  li t1, \v2
  fmv.d.x fa2, t1
  csrwi fflags, 0
  \inst fa0, fa1, fa2, \rm
  fmv.x.d a4, fa0
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

# fclass.d / fclass.s: integer result, never any flags.
.macro TEST_FD_CLASS n, res, v1
  li gp, \n
  li t1, \v1
  fmv.d.x fa1, t1
  csrwi fflags, 0
  fclass.d a4, fa1
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, 0
.endm

.macro TEST_FS_CLASS n, res, v1
  li gp, \n
  li t1, \v1
  fmv.w.x fa1, t1
  fclass.s a4, fa1
  CHECK a4, \res
.endm

# Exact int -> float conversions (no rounding-mode operand).
.macro TEST_F_FROMINT_EXACT n, inst, res, v1
  li gp, \n
  li a1, \v1
  csrwi fflags, 0
  \inst fa0, a1
  fmv.x.d a4, fa0
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, 0
.endm

# ---------------------------------------------------------------------------------------------
# Virtual memory helpers.
.equ PTE_V, 0x01
.equ PTE_R, 0x02
.equ PTE_W, 0x04
.equ PTE_X, 0x08
.equ PTE_U, 0x10
.equ PTE_G, 0x20
.equ PTE_A, 0x40
.equ PTE_D, 0x80
.equ SATP_SV39, 8 << 60
.equ SATP_SV48, 9 << 60

# \table[\index] = PTE for the physical address in \pa_reg with \flags. Clobbers t1-t3.
.macro SET_PTE table, index, pa_reg, flags
  la t1, \table
  li t3, (\index) * 8
  add t1, t1, t3
  srli t2, \pa_reg, 12
  slli t2, t2, 10
  li t3, \flags
  or t2, t2, t3
  sd t2, 0(t1)
.endm

# Enter \mode at virtual address \va (a constant) via mret. Clobbers t0.
.macro GOTO_MODE_VA mode, va
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (\mode << 11)
  csrs mstatus, t0
  li t0, \va
  csrw mepc, t0
  mret
.endm

# In S-mode: a load from \va must fault (page fault, handled in M, tval = \va), or, when
# \value is given, succeed with that 64-bit value. Clobbers a1, a4.
.macro S_LOAD_FAULTS va
  EXPECT_TRAP CAUSE_LOAD_PAGE, 9020f
  GOTO_MODE PRV_S, 9021f
9021:
  li a1, \va
  ld a4, 0(a1)
  FAIL
9020:
  CHECK s6, PRV_M
  CHECK s9, \va
.endm

.macro S_LOAD_OK va, value
  GOTO_MODE PRV_S, 9022f
9022:
  li a1, \va
  ld a4, 0(a1)
  CHECK a4, \value
  BACK_TO_M PRV_S
.endm

.macro S_STORE_FAULTS va
  EXPECT_TRAP CAUSE_STORE_PAGE, 9023f
  GOTO_MODE PRV_S, 9024f
9024:
  li a1, \va
  sd zero, 0(a1)
  FAIL
9023:
  CHECK s6, PRV_M
  CHECK s9, \va
.endm
