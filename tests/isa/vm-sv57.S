# Sv57 address translation (satp mode 10): a 5-level walk to a 4 KiB page above the Sv48 range,
# 256 TiB pages (a leaf in the root: aligned works, misaligned page-faults), a 512 GiB page at
# level 3, the Sv57 canonical rule (bits 63..57 equal bit 56; a non-canonical address faults even
# where the low bits would map), upper-half addresses, MPRV with MPP = S, and satp keeping its
# value when an unsupported mode (11, Sv64) is written.
.include "vk.S"
.equ P1_VAL, 0x1111111111111111
.equ SATP_SV57, 10 << 60
.equ RWX_AD, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D

.macro S_LD_OK va, value
  GOTO_MODE PRV_S, 9301f
9301:
  li a1, \va
  ld a4, 0(a1)
  CHECK a4, \value
  BACK_TO_M PRV_S
.endm

TEST_BEGIN
  .option push
  .option norvc
  # root[0] -> l3a; l3a[0] -> l2a; l2a[2] = identity gigapage over 0x80000000 (the program).
  la a1, l3a
  SET_PTE root, 0, a1, PTE_V
  la a1, l2a
  SET_PTE l3a, 0, a1, PTE_V
  li a1, 0x80000000
  SET_PTE l2a, 2, a1, RWX_AD
  # root[0x80] and root[0x100] -> l3b -> l2b -> l1b -> l0b; l0b[1] = p1:
  # VA 0x0080000000001000 and (upper half) 0xff00000000001000.
  la a1, l3b
  SET_PTE root, 0x80, a1, PTE_V
  SET_PTE root, 0x100, a1, PTE_V
  la a1, l2b
  SET_PTE l3b, 0, a1, PTE_V
  la a1, l1b
  SET_PTE l2b, 0, a1, PTE_V
  la a1, l0b
  SET_PTE l1b, 0, a1, PTE_V
  la a1, p1
  SET_PTE l0b, 1, a1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  # root[1]: 256 TiB page -> PA 0 (VA 0x0001000000000000 + pa); root[2]: misaligned (PA 2^31).
  li a1, 0
  SET_PTE root, 1, a1, PTE_V | PTE_R | PTE_A
  li a1, 0x80000000
  SET_PTE root, 2, a1, PTE_V | PTE_R | PTE_A
  # l3a[1]: 512 GiB page -> PA 0 (VA 0x8000000000 + pa).
  li a1, 0
  SET_PTE l3a, 1, a1, PTE_V | PTE_R | PTE_A
  la a1, root
  srli a1, a1, 12
  li a2, SATP_SV57
  or a1, a1, a2
  csrw satp, a1
  sfence.vma
  li gp, 1
  csrr a4, satp
  CHECK_EQ a4, a1
  li gp, 2                         # Sv64 is not implemented: satp keeps the Sv57 value
  li a2, (11 << 60)
  csrw satp, a2
  csrr a4, satp
  CHECK_EQ a4, a1

  li gp, 3
  S_LD_OK 0x0080000000001000, P1_VAL
  li gp, 4
  S_LD_OK 0xff00000000001008, P1_VAL + 1
  li gp, 5                         # 256 TiB page
  la a1, p1
  li a2, 0x0001000000000000
  add s0, a1, a2
  GOTO_MODE PRV_S, 1f
1:
  ld a4, 0(s0)
  CHECK a4, P1_VAL
  BACK_TO_M PRV_S
  li gp, 6                         # misaligned 256 TiB page
  S_LOAD_FAULTS 0x0002000000000000
  li gp, 7                         # 512 GiB page at level 3
  la a1, p1
  li a2, 0x8000000000
  add s0, a1, a2
  GOTO_MODE PRV_S, 1f
1:
  ld a4, 8(s0)
  CHECK a4, P1_VAL + 1
  BACK_TO_M PRV_S
  # Non-canonical: bit 57 set with bit 56 clear (the low 57 bits would reach p1), and bits 63..57
  # set with bit 56 clear.
  li gp, 8
  S_LOAD_FAULTS 0x0280000000001000
  li gp, 9
  S_LOAD_FAULTS 0xfe80000000001000
  li gp, 10
  S_STORE_FAULTS 0x0100000000001000
  li gp, 11                        # an unmapped root slot
  S_LOAD_FAULTS 0x0030000000000000
  # MPRV with MPP = S: M's loads go through Sv57.
  li gp, 12
  li t1, MSTATUS_MPP
  csrc mstatus, t1
  li t1, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t1
  li a1, 0x0080000000001000
  ld a4, 0(a1)
  li t1, MSTATUS_MPRV
  csrc mstatus, t1
  CHECK a4, P1_VAL
  # A store through the 5-level walk sets D (or faults: both are allowed; here D is preset).
  li gp, 13
  GOTO_MODE PRV_S, 1f
1:
  li a1, 0xff00000000001010
  li a2, 0x5757
  sd a2, 0(a1)
  BACK_TO_M PRV_S
  la a1, p1
  ld a4, 16(a1)
  CHECK a4, 0x5757
  csrw satp, zero
  sfence.vma
  .option pop
TEST_END

  .data
  .balign 4096
root: .skip 4096
l3a: .skip 4096
l2a: .skip 4096
l3b: .skip 4096
l2b: .skip 4096
l1b: .skip 4096
l0b: .skip 4096
p1: .dword P1_VAL, P1_VAL + 1, 0
  .balign 4096
