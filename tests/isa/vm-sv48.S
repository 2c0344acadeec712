# Sv48 address translation: satp mode 9 accepted, a 4-level walk to a 4 KiB page above the Sv39
# range, 512 GiB terapages (aligned works, misaligned faults), Sv48 canonical-address rule (bits
# 63:48 must equal bit 47), a 1 GiB page reached through 4 levels, and a U-mode access.
.include "vk.S"
.equ P1_VAL, 0x1111111111111111
TEST_BEGIN
  .option push
  .option norvc
  # L3[0] -> L2a; L2a[2] = identity gigapage over 0x80000000 for the S-mode code.
  la a1, l2a
  SET_PTE root, 0, a1, PTE_V
  li a1, 0x80000000
  SET_PTE l2a, 2, a1, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  # L3[1] -> L2b -> L1b -> L0b; L0b[1] = p1: VA 0x8000001000.
  la a1, l2b
  SET_PTE root, 1, a1, PTE_V
  la a1, l1b
  SET_PTE l2b, 0, a1, PTE_V
  la a1, l0b
  SET_PTE l1b, 0, a1, PTE_V
  la a1, p1
  SET_PTE l0b, 1, a1, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
  # L3[2]: misaligned terapage (PA 0x80000000 has non-zero PPN[1]).
  li a1, 0x80000000
  SET_PTE root, 2, a1, PTE_V | PTE_R | PTE_A
  # L3[3]: aligned terapage -> PA 0: VA 0x18000000000 + pa.
  li a1, 0
  SET_PTE root, 3, a1, PTE_V | PTE_R | PTE_A
  la a1, root
  srli a1, a1, 12
  li a2, SATP_SV48
  or a1, a1, a2
  csrw satp, a1
  sfence.vma
  li gp, 1
  csrr a4, satp
  CHECK_EQ a4, a1
  # p1 is a U page: S reads it with SUM = 1.
  li gp, 2
  li a1, MSTATUS_SUM
  csrs mstatus, a1
  S_LOAD_OK 0x8000001000, P1_VAL
  li a1, MSTATUS_SUM
  csrc mstatus, a1
  li gp, 3
  S_LOAD_FAULTS 0x8000002000
  li gp, 4
  S_LOAD_FAULTS 0x10000000000
  li gp, 5
  la a1, p1
  li a2, 0x18000000000
  add s0, a1, a2
  GOTO_MODE PRV_S, 1f
1:
  ld a4, 0(s0)
  CHECK a4, P1_VAL
  BACK_TO_M PRV_S
  # Non-canonical: bit 47 clear but bit 48 set, and bit 47 set with upper bits clear.
  li gp, 6
  S_LOAD_FAULTS 0x1000000001000
  li gp, 7
  S_LOAD_FAULTS 0x800000000000
  # A canonical high address (all upper bits set) walks L3[511], which is invalid.
  li gp, 8
  S_LOAD_FAULTS 0xffff800000000000
  # A U-privilege load through the 4-level walk: M-mode with MPRV = 1 and MPP = U.
  li gp, 9
  li a1, MSTATUS_MPP
  csrc mstatus, a1
  li a1, MSTATUS_MPRV
  csrs mstatus, a1
  li a1, 0x8000001000
  ld a4, 0(a1)
  li a1, MSTATUS_MPRV
  csrc mstatus, a1
  CHECK a4, P1_VAL
  csrw satp, zero
  .option pop
TEST_END

  .data
  .balign 4096
root: .skip 4096
l2a: .skip 4096
l2b: .skip 4096
l1b: .skip 4096
l0b: .skip 4096
p1:
  .dword P1_VAL
  .balign 4096
