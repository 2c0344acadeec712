# Sv39 address translation (S and U mode, M with MPRV): 3-level walks to 4 KiB pages, 2 MiB and
# 1 GiB superpages, misaligned superpages (page fault), invalid and reserved (W without R) PTEs,
# non-canonical addresses, R/W/X permissions, U pages vs S (SUM) and S pages vs U, MXR, A/D
# bits (updated by hardware or page fault: both are allowed), sfence.vma after a PTE change,
# MPRV in M-mode, and page-fault delegation to S (stval). Faults are taken in M (tval checked).
.include "vk.S"
.equ P1_VAL, 0x1111111111111111
.equ P2_VAL, 0x2222222222222222
TEST_BEGIN
  .option push
  .option norvc
  # root[2]: identity gigapage over 0x80000000 (kernel: code, data, handlers) for S.
  li a1, 0x80000000
  SET_PTE root, 2, a1, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  la a1, l1
  SET_PTE root, 0, a1, PTE_V
  la a1, l0
  SET_PTE l1, 0, a1, PTE_V
  la a1, p1
  SET_PTE l0, 1, a1, PTE_V | PTE_U | PTE_R | PTE_W | PTE_A | PTE_D
  SET_PTE l0, 2, a1, PTE_V | PTE_R | PTE_A
  SET_PTE l0, 3, a1, PTE_V | PTE_X | PTE_A
  SET_PTE l0, 4, a1, PTE_V | PTE_R | PTE_W
  SET_PTE l0, 5, a1, PTE_V | PTE_R | PTE_W | PTE_A
  SET_PTE l0, 7, a1, PTE_V | PTE_W | PTE_A | PTE_D
  # 2 MiB leaf with a non-zero PPN[0]: misaligned superpage.
  SET_PTE l1, 1, a1, PTE_V | PTE_R | PTE_A
  la a1, ucode
  SET_PTE l0, 8, a1, PTE_V | PTE_U | PTE_R | PTE_X | PTE_A
  # Aligned megapage: VA 0x400000 -> PA 0x80000000.
  li a1, 0x80000000
  SET_PTE l1, 2, a1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  # Misaligned gigapage: VA 0xc0000000 -> PA 0x80200000 (PPN[0] = 0, PPN[1] != 0).
  li a1, 0x80200000
  SET_PTE root, 3, a1, PTE_V | PTE_R | PTE_A
  la a1, root
  srli a1, a1, 12
  li a2, SATP_SV39
  or a1, a1, a2
  csrw satp, a1
  sfence.vma
  li gp, 1
  csrr a4, satp
  CHECK_EQ a4, a1

  li gp, 2
  S_LOAD_OK 0x2008, P1_VAL + 1
  li gp, 3
  S_STORE_FAULTS 0x2000
  # U page from S: faults with SUM = 0, readable with SUM = 1.
  li gp, 4
  S_LOAD_FAULTS 0x1000
  li gp, 5
  li a1, MSTATUS_SUM
  csrs mstatus, a1
  S_LOAD_OK 0x1000, P1_VAL
  # ...but S may never execute from a U page.
  li gp, 6
  EXPECT_TRAP CAUSE_FETCH_PAGE, 1f
  GOTO_MODE_VA PRV_S, 0x8000
1:
  CHECK s9, 0x8000
  CHECK s8, 0x8000
  li a1, MSTATUS_SUM
  csrc mstatus, a1
  # Execute-only page: loads fault unless MXR.
  li gp, 7
  S_LOAD_FAULTS 0x3000
  li gp, 8
  li a1, MSTATUS_MXR
  csrs mstatus, a1
  S_LOAD_OK 0x3000, P1_VAL
  li a1, MSTATUS_MXR
  csrc mstatus, a1
  # Invalid PTE; reserved W-without-R PTE; non-canonical address.
  li gp, 9
  S_LOAD_FAULTS 0x6000
  li gp, 10
  S_LOAD_FAULTS 0x7000
  li gp, 11
  S_LOAD_FAULTS 0x4000000000
  # Superpages: misaligned megapage and gigapage fault; an aligned megapage works.
  li gp, 12
  S_LOAD_FAULTS 0x200000
  li gp, 13
  S_LOAD_FAULTS 0xc0000000
  li gp, 14
  la a1, p1
  li a2, 0x80000000 - 0x400000
  sub a1, a1, a2
  mv s0, a1
  GOTO_MODE PRV_S, 2f
2:
  ld a4, 0(s0)
  CHECK a4, P1_VAL
  BACK_TO_M PRV_S
  # A bit clear: either the hardware sets it or the access page-faults.
  li gp, 15
  EXPECT_TRAP CAUSE_LOAD_PAGE, 3f
  GOTO_MODE PRV_S, 4f
4:
  li a1, 0x4000
  ld a4, 0(a1)
  li s10, -1
  BACK_TO_M PRV_S
  la a1, l0
  ld a4, 4 * 8(a1)
  andi a4, a4, PTE_A
  CHECK a4, PTE_A
  j 5f
3:
  CHECK s9, 0x4000
5:
  # D bit clear on a store: hardware sets D (and A) or store page fault.
  li gp, 16
  EXPECT_TRAP CAUSE_STORE_PAGE, 6f
  GOTO_MODE PRV_S, 7f
7:
  li a1, 0x5010
  li a2, 5
  sd a2, 0(a1)
  li s10, -1
  BACK_TO_M PRV_S
  la a1, l0
  ld a4, 5 * 8(a1)
  andi a4, a4, PTE_D
  CHECK a4, PTE_D
  j 8f
6:
  CHECK s9, 0x5010
8:
  # U mode: run code at VA 0x8000 that loads VA 0x1000 (a U page).
  li gp, 17
  li a1, 0x1000
  li a4, 0
  EXPECT_TRAP CAUSE_ECALL_U, 9f
  GOTO_MODE_VA PRV_U, 0x8000
9:
  CHECK a4, P1_VAL
  # U may not read an S page.
  li gp, 18
  li a1, 0x2000
  EXPECT_TRAP CAUSE_LOAD_PAGE, 10f
  GOTO_MODE_VA PRV_U, 0x8000
10:
  CHECK s9, 0x2000
  CHECK s8, 0x8000
  # sfence.vma makes a changed PTE visible: VA 0x2000 now maps p2.
  li gp, 19
  la a1, p2
  SET_PTE l0, 2, a1, PTE_V | PTE_R | PTE_A
  GOTO_MODE PRV_S, 11f
11:
  sfence.vma
  li a1, 0x2000
  ld a4, 0(a1)
  CHECK a4, P2_VAL
  BACK_TO_M PRV_S
  # MPRV: M-mode loads translate with MPP's privilege (S).
  li gp, 20
  li a1, MSTATUS_MPP
  csrc mstatus, a1
  li a1, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, a1
  li a1, 0x2000
  ld a4, 0(a1)
  li a1, MSTATUS_MPRV
  csrc mstatus, a1
  CHECK a4, P2_VAL
  # Page faults delegated to S: the S handler sees stval.
  li gp, 21
  li a1, 1 << CAUSE_LOAD_PAGE
  csrw medeleg, a1
  GOTO_MODE PRV_S, 12f
12:
  EXPECT_TRAP CAUSE_LOAD_PAGE, 13f
  li a1, 0x6008
  ld a4, 0(a1)
  FAIL
13:
  CHECK s6, PRV_S
  CHECK s9, 0x6008
  BACK_TO_M PRV_S
  csrw medeleg, zero
  csrw satp, zero
  .option pop
TEST_END

  .text
  .balign 4096
ucode:
  ld a4, 0(a1)
  ecall
  .balign 4096

  .data
  .balign 4096
root: .skip 4096
l1: .skip 4096
l0: .skip 4096
p1:
  .dword P1_VAL, P1_VAL + 1
  .balign 4096
p2:
  .dword P2_VAL
  .balign 4096
