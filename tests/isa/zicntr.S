# Zicntr: cycle/time/instret (and the mcycle/minstret M-mode views) count; instret counts every
# retired instruction exactly (two reads k instructions apart differ by k + 1) and not the
# instruction that traps; minstret is writable; time follows the CLINT's mtime; mcounteren
# gates S-mode access and scounteren gates U-mode access.
.include "vk.S"
TEST_BEGIN
  .option push
  .option norvc
  li gp, 1
  csrr a1, instret
  nop
  nop
  nop
  csrr a2, instret
  sub a3, a2, a1
  CHECK a3, 4
  li gp, 2
  csrr a1, minstret
  csrr a2, minstret
  sub a3, a2, a1
  CHECK a3, 1
  # cycle and mcycle advance.
  li gp, 3
  csrr a1, cycle
  li a4, 100
1:
  addi a4, a4, -1
  bnez a4, 1b
  csrr a2, cycle
  bgeu a1, a2, vk_fail
  csrr a1, mcycle
  csrr a2, mcycle
  bltu a2, a1, vk_fail
  # minstret is writable; the write takes effect after the writing instruction, which is not
  # counted on top of it: the next read sees exactly the value written (as Spike does; QEMU 7.2
  # counts the writing instruction too, so tests 4-5 fail there).
.ifndef QEMU                     # QEMU 7.2 counts the writing instruction (see above)
  li gp, 4
  li a1, 1000
  csrw minstret, a1
  csrr a2, minstret
  CHECK a2, 1000
  li gp, 5
  csrr a1, instret
  # csrr a2, li t6 + beq (CHECK), li gp retired since: 1000 + 4.
  CHECK a1, 1004
.endif
  # time is the CLINT mtime: time read between two mtime reads lies between them.
  li gp, 6
  li a3, CLINT_MTIME
  ld a1, 0(a3)
  csrr a2, time
  ld a4, 0(a3)
  bltu a2, a1, vk_fail
  bltu a4, a2, vk_fail
  # A trapping instruction does not retire: ecall between two reads counts 0, the handler's
  # instructions count (4 csrr/li in vk_trap_m + the bne + li + jr = 7) and the EXPECT_TRAP li/la.
.ifndef QEMU                     # QEMU 7.2 counts the ECALL (see below)
  li gp, 7
  li s10, CAUSE_ECALL_M
  la s11, 2f
  csrr a1, instret
  ecall
2:
  csrr a2, instret
  sub a3, a2, a1
  # csrr(a1) + 7 handler instructions = 8 retired before the second read (ECALL itself does not
  # retire, per the privileged spec; QEMU 7.2 -icount counts it).
  CHECK a3, 8
.endif
  # Counter enables: with mcounteren = 0 an S-mode read of cycle is illegal...
  li gp, 8
  csrw mcounteren, zero
  GOTO_MODE PRV_S, 3f
3:
  EXPECT_TRAP CAUSE_ILLEGAL, 4f
5:
  csrr a1, cycle
  FAIL
4:
  CHECK_TRAP_AT PRV_M, 5b
  # ...with mcounteren.CY|TM|IR set it works in S, but U still needs scounteren.
  li gp, 9
  csrwi mcounteren, 7
  csrwi scounteren, 0
  GOTO_MODE PRV_S, 6f
6:
  csrr a1, cycle
  csrr a1, time
  csrr a1, instret
  BACK_TO_M PRV_S
  li gp, 10
  GOTO_MODE PRV_U, 7f
7:
  EXPECT_TRAP CAUSE_ILLEGAL, 8f
9:
  csrr a1, instret
  FAIL
8:
  CHECK_TRAP_AT PRV_M, 9b
  li gp, 11
  csrwi scounteren, 5
  GOTO_MODE PRV_U, 10f
10:
  csrr a1, cycle
  csrr a1, instret
  EXPECT_TRAP CAUSE_ILLEGAL, 11f
12:
  csrr a1, time
  FAIL
11:
  CHECK_TRAP_AT PRV_M, 12b
  .option pop
TEST_END
