# Zicbom, Zicboz, Zicbop (and Zihintpause's pause) as a whole program:
# - cbo.zero zeroes exactly the 64-byte block holding the address (any offset within it);
# - cbo.clean/flush/inval leave memory as it is (virtkit's RAM has no caches to lose);
# - the enables: M always may; S needs menvcfg.CBZE / CBCFE / CBIE != 00; U needs the menvcfg
#   and the senvcfg bit; otherwise an illegal-instruction trap (mtval 0 or the encoding);
# - under Sv39: cbo.zero needs store permission (read-only page: store page fault), the
#   management ones need load or store permission, an invalid PTE gives a store page fault, and
#   the fault address lies in the block; cbo.zero through a mapping zeroes the physical block;
# - prefetch.i/r/w are hints: no fault even on an unmapped address, in any mode.
.include "vk.S"
.equ CBIE_FLUSH, 0x10
.equ CBIE_INVAL, 0x30
.equ CBCFE, 0x40
.equ CBZE, 0x80
.equ PAT, 0xa5a5a5a5a5a5a5a5

# In mode \mode: \insn (a0) must trap as illegal (taken in M).
.macro CBO_ILLEGAL mode, insn
  EXPECT_TRAP CAUSE_ILLEGAL, 9401f
  GOTO_MODE \mode, 9402f
9402:
  \insn (a0)
  FAIL
9401:
  CHECK_TRAP_AT PRV_M, 9402b
  CHECK_ILLEGAL_TVAL 9402b
.endm

.macro CBO_OK mode, insn
  GOTO_MODE \mode, 9403f
9403:
  \insn (a0)
  BACK_TO_M \mode
.endm

# Fill the 256 bytes at blk with PAT. Clobbers t1, t2.
.macro REFILL
  la t1, blk
  li t2, PAT
  .irp o, 0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 144, 152, 160, 168, 176, 184, 192, 200, 208, 216, 224, 232, 240, 248
    sd t2, \o(t1)
  .endr
.endm

TEST_BEGIN
  .option push
  .option norvc
  csrwi menvcfg, 0
  csrwi senvcfg, 0
  REFILL
  # cbo.zero in M with an address in the middle of the second block.
  li gp, 1
  la a0, blk + 64 + 13
  cbo.zero (a0)
  la a1, blk
  ld a4, 56(a1)
  CHECK a4, PAT
  ld a4, 64(a1)
  CHECK a4, 0
  ld a4, 96(a1)
  CHECK a4, 0
  ld a4, 120(a1)
  CHECK a4, 0
  ld a4, 128(a1)
  CHECK a4, PAT
  lbu a4, 63(a1)
  CHECK a4, 0xa5
  lbu a4, 128(a1)
  CHECK a4, 0xa5
  # The management instructions keep the data (M needs no enable).
  li gp, 2
  la a0, blk + 130
  cbo.clean (a0)
  cbo.flush (a0)
  cbo.inval (a0)
  la a1, blk
  ld a4, 128(a1)
  CHECK a4, PAT
  ld a4, 184(a1)
  CHECK a4, PAT
  # The writable enable bits: FIOM, CBIE, CBCFE, CBZE in both envcfg registers.
  li gp, 3
  li t1, 0xff
  csrs menvcfg, t1
  csrr a4, menvcfg
  andi a4, a4, 0xff
  CHECK a4, 0xf1
  li gp, 4
  csrs senvcfg, t1
  csrr a4, senvcfg
  andi a4, a4, 0xff
  CHECK a4, 0xf1
  csrc menvcfg, t1
  csrc senvcfg, t1

  # S: each instruction needs its menvcfg enable.
  la a0, blk + 200
  li gp, 5
  CBO_ILLEGAL PRV_S, cbo.zero
  li gp, 6
  CBO_ILLEGAL PRV_S, cbo.clean
  li gp, 7
  CBO_ILLEGAL PRV_S, cbo.flush
  li gp, 8
  CBO_ILLEGAL PRV_S, cbo.inval
  li t1, CBZE
  csrs menvcfg, t1
  li gp, 9
  CBO_OK PRV_S, cbo.zero
  la a1, blk
  ld a4, 192(a1)
  CHECK a4, 0
  ld a4, 184(a1)
  CHECK a4, PAT
  li gp, 10
  CBO_ILLEGAL PRV_S, cbo.clean
  li t1, CBCFE
  csrs menvcfg, t1
  li gp, 11
  CBO_OK PRV_S, cbo.clean
  CBO_OK PRV_S, cbo.flush
  li gp, 12
  CBO_ILLEGAL PRV_S, cbo.inval
  li t1, CBIE_FLUSH
  csrs menvcfg, t1
  li gp, 13
  CBO_OK PRV_S, cbo.inval
  li t1, CBIE_INVAL
  csrs menvcfg, t1
  li gp, 14
  CBO_OK PRV_S, cbo.inval
  li t1, CBCFE
  csrc menvcfg, t1
  li gp, 15                        # CBIE does not enable clean/flush
  CBO_ILLEGAL PRV_S, cbo.flush

  # U: menvcfg and senvcfg both. menvcfg = CBZE | CBIE here; senvcfg = 0.
  li gp, 16
  CBO_ILLEGAL PRV_U, cbo.zero
  li gp, 17
  CBO_ILLEGAL PRV_U, cbo.inval
  li t1, CBZE | CBIE_FLUSH | CBCFE
  csrs senvcfg, t1
  li gp, 18
  CBO_OK PRV_U, cbo.zero
  li gp, 19
  CBO_OK PRV_U, cbo.inval
  li gp, 20                        # senvcfg.CBCFE alone is not enough
  CBO_ILLEGAL PRV_U, cbo.clean
  li t1, CBCFE
  csrs menvcfg, t1
  li gp, 21
  CBO_OK PRV_U, cbo.clean
  CBO_OK PRV_U, cbo.flush
  li t1, CBZE
  csrc menvcfg, t1
  li gp, 22                        # senvcfg.CBZE alone is not enough either
  CBO_ILLEGAL PRV_U, cbo.zero
  li t1, CBZE
  csrs menvcfg, t1

  # Hints: prefetch.* and pause never trap, even with nothing enabled and no mapping.
  li gp, 23
  csrwi senvcfg, 0
  GOTO_MODE PRV_U, 1f
1:
  li a1, 0x1000
  prefetch.i 0(a1)
  prefetch.r 32(a1)
  prefetch.w -64(a1)
  .word 0x0100000f                 # pause
  BACK_TO_M PRV_U

  # Paging: root[2] identity gigapage for the program; VA 0x1000 = ro (R, A), VA 0x2000 = rw
  # (both -> page ro/rw), VA 0x3000 invalid.
  li a1, 0x80000000
  SET_PTE root, 2, a1, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  la a1, l1
  SET_PTE root, 0, a1, PTE_V
  la a1, l0
  SET_PTE l1, 0, a1, PTE_V
  la a1, ro
  SET_PTE l0, 1, a1, PTE_V | PTE_R | PTE_A
  la a1, rw
  SET_PTE l0, 2, a1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  la a1, root
  srli a1, a1, 12
  li a2, SATP_SV39
  or a1, a1, a2
  csrw satp, a1
  sfence.vma
  li t1, CBZE | CBCFE | CBIE_INVAL
  csrs menvcfg, t1
  li gp, 24                        # cbo.zero on a read-only page: store page fault
  EXPECT_TRAP CAUSE_STORE_PAGE, 1f
  li a0, 0x1000 + 0x48
  GOTO_MODE PRV_S, 2f
2:
  cbo.zero (a0)
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  li t1, 0x1040
  bltu s9, t1, 3f
  li t1, 0x1080
  bgeu s9, t1, 3f
  j 4f
3:
  FAIL
4:
  li gp, 25                        # clean/flush/inval on it are allowed (a load would be)
  li a0, 0x1000 + 0x48
  CBO_OK PRV_S, cbo.clean
  CBO_OK PRV_S, cbo.flush
  CBO_OK PRV_S, cbo.inval
  la a1, ro
  ld a4, 0x40(a1)
  CHECK a4, PAT
  li gp, 26                        # an invalid PTE: store page fault for each
  EXPECT_TRAP CAUSE_STORE_PAGE, 1f
  li a0, 0x3000 + 0x10
  GOTO_MODE PRV_S, 2f
2:
  cbo.clean (a0)
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  li t1, 0x3040
  bgeu s9, t1, 3f
  li t1, 0x3000
  bgeu s9, t1, 4f
3:
  FAIL
4:
  li gp, 27
  EXPECT_TRAP CAUSE_STORE_PAGE, 1f
  li a0, 0x3000 + 0xf0
  GOTO_MODE PRV_S, 2f
2:
  cbo.inval (a0)
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  li gp, 28                        # cbo.zero through a mapping zeroes the physical block
  GOTO_MODE PRV_S, 2f
2:
  li a0, 0x2000 + 0x85
  cbo.zero (a0)
  li a1, 0x2000
  ld a4, 0x80(a1)
  CHECK a4, 0
  ld a4, 0xc0(a1)
  CHECK a4, PAT
  BACK_TO_M PRV_S
  la a1, rw
  ld a4, 0xb8(a1)
  CHECK a4, 0
  ld a4, 0x78(a1)
  CHECK a4, PAT
  li gp, 29                        # prefetch of an unmapped address in S: no fault
  GOTO_MODE PRV_S, 2f
2:
  li a1, 0x3000
  prefetch.r 0(a1)
  prefetch.w 0(a1)
  prefetch.i 0(a1)
  BACK_TO_M PRV_S
  csrw satp, zero
  sfence.vma
  .option pop
TEST_END

  .data
  .balign 4096
root: .skip 4096
l1: .skip 4096
l0: .skip 4096
ro: .fill 4096, 1, 0xa5
rw: .fill 4096, 1, 0xa5
  .balign 64
blk: .skip 256
