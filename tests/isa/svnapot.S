# Svnapot, Svpbmt and Svinval under Sv39 (S mode; faults are taken in M with mtval checked).
# - Svnapot: a 64 KiB page (N = 1, PPN[3:0] = 1000) maps VA bits 15..12 onto the PPN, so each
#   4 KiB piece of the virtual range reaches its own piece of the physical 64 KiB block; reserved
#   encodings page-fault: another PPN[3:0] pattern (a 32 KiB size), N on a 2 MiB leaf, N on a
#   non-leaf PTE.
# - Svpbmt: PBMT = 1 (NC) and 2 (IO) map normally when menvcfg.PBMTE = 1; PBMT = 3 is reserved;
#   with PBMTE = 0 any non-zero PBMT page-faults; PBMT on a non-leaf PTE page-faults; bits
#   60..54 of a leaf are reserved (page fault).
# - Svinval: sinval.vma between sfence.w.inval and sfence.inval.ir makes a PTE change visible;
#   the three are illegal in U, and sinval.vma is illegal in S with mstatus.TVM = 1.
# VA layout: root[2] = identity gigapage over 0x80000000 (code, data); root[1] -> l1 -> l0 for the
# test mappings at VA 0x40000000 + ...
.include "vk.S"
.equ PTE_N, 0x8000000000000000
.equ PBMT_NC, 0x2000000000000000
.equ PBMT_IO, 0x4000000000000000
.equ PBMT_RSV, 0x6000000000000000
.equ MENVCFG_PBMTE, 0x4000000000000000
.equ RW_AD, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
.equ VBASE, 0x40000000

# In S: load from \va must give \value / must page-fault (tval = \va).
.macro S_LD_OK va, value
  GOTO_MODE PRV_S, 9201f
9201:
  li a1, \va
  ld a4, 0(a1)
  CHECK a4, \value
  BACK_TO_M PRV_S
.endm

TEST_BEGIN
  .option push
  .option norvc
  li a1, 0x80000000
  SET_PTE root, 2, a1, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  la a1, l1
  SET_PTE root, 1, a1, PTE_V
  la a1, l0
  SET_PTE l1, 0, a1, PTE_V
  # Mark each 4 KiB piece k of the 64 KiB block with 0x1000 + k (at offset 0x100).
  la a1, block
  li a2, 0
1:
  li a3, 0x1000
  add a3, a3, a2
  sd a3, 0x100(a1)
  li t1, 0x1000
  add a1, a1, t1
  addi a2, a2, 1
  li t1, 16
  bne a2, t1, 1b
  # l0[16..31] (VA 0x40010000-0x4001ffff): sixteen identical NAPOT PTEs, PPN = block | 1000b.
  la a1, block
  li t1, 0x8000
  or a1, a1, t1
  li a2, 16
2:
  la t1, l0
  slli t2, a2, 3
  add t1, t1, t2
  srli t2, a1, 12
  slli t2, t2, 10
  li t3, PTE_N | RW_AD
  or t2, t2, t3
  sd t2, 0(t1)
  addi a2, a2, 1
  li t1, 32
  bne a2, t1, 2b
  la a1, root
  srli a1, a1, 12
  li a2, SATP_SV39
  or a1, a1, a2
  csrw satp, a1
  sfence.vma

  li gp, 1
  S_LD_OK VBASE + 0x10100, 0x1000
  li gp, 2
  S_LD_OK VBASE + 0x15100, 0x1005
  li gp, 3
  S_LD_OK VBASE + 0x1f100, 0x100f
  li gp, 4                         # a store through the NAPOT page lands in the right piece
  GOTO_MODE PRV_S, 3f
3:
  li a1, VBASE + 0x1a108
  li a2, 0x5a
  sd a2, 0(a1)
  BACK_TO_M PRV_S
  la a1, block
  li t1, 0xa108
  add a1, a1, t1
  ld a4, 0(a1)
  CHECK a4, 0x5a
  # Reserved: PPN[3:0] = 0100 (would be 32 KiB).
  li gp, 5
  la a1, block
  li t1, 0x4000
  or a1, a1, t1
  SET_PTE l0, 40, a1, PTE_N | RW_AD
  sfence.vma
  S_LOAD_FAULTS VBASE + 40 * 0x1000
  # Reserved: N on a 2 MiB leaf, and on a non-leaf PTE.
  li gp, 6
  li a1, 0x80000000
  SET_PTE l1, 1, a1, PTE_N | RW_AD
  sfence.vma
  S_LOAD_FAULTS VBASE + 0x200000
  li gp, 7
  la a1, l0
  SET_PTE l1, 2, a1, PTE_N | PTE_V
  sfence.vma
  S_LOAD_FAULTS VBASE + 0x400000 + 0x10100
  li gp, 8                         # without N the same table is fine
  la a1, l0
  SET_PTE l1, 2, a1, PTE_V
  sfence.vma
  S_LD_OK VBASE + 0x400000 + 0x13100, 0x1003

  # Svpbmt. l0[48] = p1 with PBMT NC, l0[49] IO, l0[50] the reserved 3, l0[51] bit 54 set.
  li gp, 9
  li t1, MENVCFG_PBMTE
  csrs menvcfg, t1
  csrr a4, menvcfg
  and a4, a4, t1
  CHECK_EQ a4, t1
  la a1, p1
  SET_PTE l0, 48, a1, PBMT_NC | RW_AD
  SET_PTE l0, 49, a1, PBMT_IO | RW_AD
  SET_PTE l0, 50, a1, PBMT_RSV | RW_AD
  SET_PTE l0, 51, a1, (1 << 54) | RW_AD
  SET_PTE l0, 52, a1, (1 << 60) | RW_AD
  SET_PTE l0, 53, a1, RW_AD
  sfence.vma
  li gp, 10
  S_LD_OK VBASE + 48 * 0x1000, 0x1111111111111111
  li gp, 11
  S_LD_OK VBASE + 49 * 0x1000 + 8, 0x2222222222222222
.ifndef QEMU                     # QEMU 7.2 maps PBMT = 3 (reserved) instead of faulting
  li gp, 12
  S_LOAD_FAULTS VBASE + 50 * 0x1000
.endif
.ifndef QEMU                     # QEMU 7.2 ignores the reserved PTE bits 60..54
  li gp, 13
  S_LOAD_FAULTS VBASE + 51 * 0x1000
  li gp, 14
  S_LOAD_FAULTS VBASE + 52 * 0x1000
.endif
  li gp, 15
  S_LD_OK VBASE + 53 * 0x1000, 0x1111111111111111
  li gp, 16                        # a store through an IO-typed page reaches memory
  GOTO_MODE PRV_S, 4f
4:
  li a1, VBASE + 49 * 0x1000 + 16
  li a2, 0x77
  sd a2, 0(a1)
  BACK_TO_M PRV_S
  la a1, p1
  ld a4, 16(a1)
  CHECK a4, 0x77
  # PBMT on a non-leaf PTE is reserved.
  li gp, 17
  la a1, l0
  SET_PTE l1, 3, a1, PBMT_NC | PTE_V
  sfence.vma
  S_LOAD_FAULTS VBASE + 0x600000 + 53 * 0x1000
  # PBMTE = 0: every non-zero PBMT page-faults (the translations cached above must not be used).
  li gp, 18
  S_LD_OK VBASE + 48 * 0x1000, 0x1111111111111111
  li t1, MENVCFG_PBMTE
  csrc menvcfg, t1
  sfence.vma
.ifndef QEMU                     # QEMU 7.2 keeps using PBMT when menvcfg.PBMTE = 0
  li gp, 19
  S_LOAD_FAULTS VBASE + 48 * 0x1000
  li gp, 20
  S_STORE_FAULTS VBASE + 49 * 0x1000
.endif
  li gp, 21
  S_LD_OK VBASE + 53 * 0x1000, 0x1111111111111111
  li t1, MENVCFG_PBMTE
  csrs menvcfg, t1
  sfence.vma
  li gp, 22
  S_LD_OK VBASE + 48 * 0x1000, 0x1111111111111111

  # Svinval: remap l0[53] from p1 to p2 with the split fence sequence, in S.
  li gp, 23
  GOTO_MODE PRV_S, 5f
5:
  li a1, VBASE + 53 * 0x1000
  ld a4, 0(a1)                     # cached now
  CHECK a4, 0x1111111111111111
  la a1, p2
  SET_PTE l0, 53, a1, RW_AD
  sfence.w.inval
  li a1, VBASE + 53 * 0x1000
  sinval.vma a1, zero
  sfence.inval.ir
  ld a4, 0(a1)
  CHECK a4, 0x3333333333333333
  BACK_TO_M PRV_S
  # Illegal in U (all three); sinval.vma illegal in S under TVM. Paging off from here.
  csrw satp, zero
  sfence.vma
  li gp, 24
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
  GOTO_MODE PRV_U, 2f
2:
  sinval.vma zero, zero
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  CHECK_ILLEGAL_TVAL 2b
.ifndef QEMU                     # QEMU 7.2 executes both in U (QEMU issue 3493)
  li gp, 25
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
  GOTO_MODE PRV_U, 2f
2:
  sfence.w.inval
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  li gp, 26
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
  GOTO_MODE PRV_U, 2f
2:
  sfence.inval.ir
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
.endif
  li gp, 27
  li t1, MSTATUS_TVM
  csrs mstatus, t1
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
  GOTO_MODE PRV_S, 2f
2:
  sinval.vma zero, zero
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  li gp, 28                        # the other two stay legal in S under TVM
  GOTO_MODE PRV_S, 2f
2:
  sfence.w.inval
  sfence.inval.ir
  BACK_TO_M PRV_S
  li t1, MSTATUS_TVM
  csrc mstatus, t1
  .option pop
TEST_END

  .data
  .balign 4096
root: .skip 4096
l1: .skip 4096
l0: .skip 4096
p1: .dword 0x1111111111111111, 0x2222222222222222, 0
  .balign 4096
p2: .dword 0x3333333333333333
  .balign 0x10000
block: .skip 0x10000
