# PMP enforcement (S, U and M with MPRV; M itself only under a locked entry): TOR, NA4 and NAPOT
# regions, R/W/X denial with the access-fault cause and mtval of the access, accesses that only
# partly match an entry, priority (the lowest-numbered matching entry decides, whatever later
# entries say), no matching entry in S/U = fault once any entry is set (M unaffected), PMP checks
# of the page-table walk (the original access's fault type), a PMP change followed by sfence.vma
# while the page is in the TLB, the L bit (locks the entry and its TOR base, applies to M), WARL
# pmpaddr and the missing odd pmpcfg registers of RV64. Only entries 0-15 are used (QEMU has 16).
#
# Layout: entry 15 opens the first MiB of RAM (program, data, stack) to S/U with RWX, so
# everything else is matched by a lower-numbered entry or by none. `area` is 8 pages P0..P7,
# 32 KiB aligned; P2 starts with code (li a4, 42; ret) for the execute checks.
.include "vk.S"
.equ PMP_R, 1
.equ PMP_W, 2
.equ PMP_X, 4
.equ PMP_TOR, 0x08
.equ PMP_NA4, 0x10
.equ PMP_NAPOT, 0x18
.equ PMP_L, 0x80
.equ P0, 0
.equ P1, 0x1000
.equ P2, 0x2000
.equ P3, 0x3000
.equ P4, 0x4000
.equ P5, 0x5000
.equ P6, 0x6000
.equ P7, 0x7000
.equ UNMATCHED, 0x80c00000       # RAM beyond the first MiB (RAM is 16 MiB on the test board)

# Entry \i's configuration byte = \val (other entries unchanged). Clobbers t1.
.macro PMPCFG i, val
  .if \i < 8
    li t1, 0xff << (8 * \i)
    csrc pmpcfg0, t1
    li t1, (\val) << (8 * \i)
    csrs pmpcfg0, t1
  .else
    li t1, 0xff << (8 * (\i - 8))
    csrc pmpcfg2, t1
    li t1, (\val) << (8 * (\i - 8))
    csrs pmpcfg2, t1
  .endif
.endm

# pmpaddr\i = (area + \off) >> 2 | \ones (the NAPOT size bits). Clobbers t1, t2.
.macro PMPADDR i, off, ones=0
  la t1, area + \off
  srli t1, t1, 2
  li t2, \ones
  or t1, t1, t2
  csrw pmpaddr\i, t1
.endm

# In \mode (U/S) an access to area + \off must fault with \cause in M, mtval = the address.
.macro ACCESS_FAULTS mode, cause, insn, off
  EXPECT_TRAP \cause, 9101f
  la a1, area + \off
  GOTO_MODE \mode, 9102f
9102:
  \insn a4, 0(a1)
  FAIL
9101:
  CHECK s6, PRV_M
  CHECK_EQ s9, a1
.endm

# In \mode an access to area + \off succeeds (a load gives the stored pattern's register).
.macro ACCESS_OK mode, insn, off
  la a1, area + \off
  GOTO_MODE \mode, 9103f
9103:
  \insn a4, 0(a1)
  BACK_TO_M \mode
.endm

# In \mode, a call to area + \off (code: li a4, 42; ret) must fault / must work.
.macro EXEC_FAULTS mode, off
  EXPECT_TRAP CAUSE_FETCH_ACCESS, 9104f
  la a1, area + \off
  GOTO_MODE \mode, 9105f
9105:
  jalr a1
  FAIL
9104:
  CHECK s6, PRV_M
  CHECK_EQ s8, a1
  CHECK_EQ s9, a1
.endm

.macro VA_ACCESS_FAULTS cause, insn, va
  EXPECT_TRAP \cause, 9107f
  GOTO_MODE PRV_S, 9108f
9108:
  li a1, \va
  \insn a4, 0(a1)
  FAIL
9107:
  CHECK s6, PRV_M
  CHECK s9, \va
.endm

.macro VA_ACCESS_OK insn, va
  GOTO_MODE PRV_S, 9109f
9109:
  li a1, \va
  \insn a4, 0(a1)
  BACK_TO_M PRV_S
.endm

.macro EXEC_OK mode, off
  la a1, area + \off
  GOTO_MODE \mode, 9106f
9106:
  li a4, 0
  jalr a1
  CHECK a4, 42
  BACK_TO_M \mode
.endm

TEST_BEGIN
  .option push
  .option norvc
  # Entry 15: NAPOT over [0x80000000, +1 MiB), RWX; entries 0-14 off.
  li t1, (0x80000000 >> 2) | ((1 << 17) - 1)
  csrw pmpaddr15, t1
  csrwi pmpcfg2, 0
  PMPCFG 15, PMP_NAPOT | PMP_R | PMP_W | PMP_X
  csrwi pmpcfg0, 0
  li gp, 1
  csrr a4, pmpcfg2
  CHECK a4, 0x1f00000000000000
  # pmpaddr is WARL: 54 bits on RV64 (physical address bits 55..2).
.ifndef QEMU                     # QEMU 7.2 keeps bits 63..54 as written
  li gp, 2
  li t1, -1
  csrw pmpaddr10, t1
  csrr a4, pmpaddr10
  CHECK a4, 0x003fffffffffffff
  csrw pmpaddr10, zero
.endif
  # Odd pmpcfg registers do not exist on RV64.
  li gp, 3
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
2:
  csrr a4, pmpcfg1
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  li gp, 4
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
2:
  csrw pmpcfg3, zero
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b

  # All of P0-P7 readable and writable from S while only entry 15 is set.
  li gp, 5
  ACCESS_OK PRV_S, sd, P0
  ACCESS_OK PRV_S, sd, P7 + 8
  li gp, 6
  EXEC_OK PRV_S, P2

  # TOR: entry 1 = [P0, P1) read-only (pmpaddr0 is its base; entry 0 stays off).
  PMPADDR 0, P0
  PMPADDR 1, P1
  PMPCFG 1, PMP_TOR | PMP_R
  li gp, 7
  ACCESS_OK PRV_S, ld, P0
  ACCESS_OK PRV_S, ld, P1 - 8
  li gp, 8
  ACCESS_FAULTS PRV_S, CAUSE_STORE_ACCESS, sd, P0
  li gp, 9
  ACCESS_FAULTS PRV_S, CAUSE_STORE_ACCESS, sb, P1 - 1
  li gp, 10
  ACCESS_FAULTS PRV_U, CAUSE_STORE_ACCESS, sw, P0 + 0x800
  li gp, 11
  ACCESS_OK PRV_U, lw, P0 + 0x800
  ACCESS_OK PRV_S, sd, P1          # the top is exclusive: P1 is entry 15's
  li gp, 12
  la a1, area + P0
  sd a1, 0(a1)                     # M: no entry locked, so the read-only entry does not bind M
  ld a4, 0(a1)
  CHECK_EQ a4, a1
  # An atomic read-modify-write needs W as well: store/AMO access fault.
  li gp, 13
  EXPECT_TRAP CAUSE_STORE_ACCESS, 1f
  la a1, area + P0
  GOTO_MODE PRV_S, 2f
2:
  amoadd.d a4, a1, (a1)
  FAIL
1:
  CHECK_EQ s9, a1

  # NA4: entry 2 = the 4 bytes at P1 + 8, no permissions.
  PMPADDR 2, P1 + 8
  PMPCFG 2, PMP_NA4
  li gp, 14
  ACCESS_FAULTS PRV_S, CAUSE_LOAD_ACCESS, lw, P1 + 8
  li gp, 15
  ACCESS_FAULTS PRV_S, CAUSE_LOAD_ACCESS, lb, P1 + 11
  li gp, 16
  ACCESS_OK PRV_S, lw, P1 + 12
  ACCESS_OK PRV_S, lw, P1 + 4
  ACCESS_OK PRV_S, ld, P1
  li gp, 17                        # an access only partly inside the entry fails
  ACCESS_FAULTS PRV_S, CAUSE_LOAD_ACCESS, ld, P1 + 8
  li gp, 18
  ACCESS_FAULTS PRV_U, CAUSE_STORE_ACCESS, sh, P1 + 10

  # NAPOT: entry 3 = P2 (4 KiB, so 9 trailing ones), R and W but not X.
  PMPADDR 3, P2, 0x1ff
  PMPCFG 3, PMP_NAPOT | PMP_R | PMP_W
  li gp, 19
  csrr a4, pmpaddr3
  la t1, area + P2
  srli t1, t1, 2
  ori t1, t1, 0x1ff
  CHECK_EQ a4, t1
  li gp, 20
  EXEC_FAULTS PRV_S, P2
  li gp, 21
  EXEC_FAULTS PRV_U, P2 + 0
  li gp, 22
  ACCESS_OK PRV_S, ld, P2 + 0xff8
  ACCESS_OK PRV_S, sd, P2 + 0x800
  # X only: fetch works, loads and stores fault.
  PMPCFG 3, PMP_NAPOT | PMP_X
  li gp, 23
  EXEC_OK PRV_S, P2
  EXEC_OK PRV_U, P2
  li gp, 24
  ACCESS_FAULTS PRV_S, CAUSE_LOAD_ACCESS, ld, P2
  li gp, 25
  ACCESS_FAULTS PRV_U, CAUSE_STORE_ACCESS, sd, P2 + 0xff8
  li gp, 26
  ACCESS_OK PRV_S, ld, P2 + 0x1000 # just past the region

  # Priority: entry 4 (P4, RW) inside entry 5 (P4-P7, 16 KiB, nothing): P4 usable, P5-P7 not.
  PMPADDR 4, P4, 0x1ff
  PMPCFG 4, PMP_NAPOT | PMP_R | PMP_W
  PMPADDR 5, P4, 0x7ff
  PMPCFG 5, PMP_NAPOT
  li gp, 27
  ACCESS_OK PRV_S, sd, P4 + 0x10
  li gp, 28
  ACCESS_FAULTS PRV_S, CAUSE_LOAD_ACCESS, ld, P5
  li gp, 29
  ACCESS_FAULTS PRV_S, CAUSE_STORE_ACCESS, sd, P7 + 0xff8
  # Swapped: entry 4 (P5, nothing) inside entry 5 (P4-P7, RW).
  PMPADDR 4, P5, 0x1ff
  PMPCFG 4, PMP_NAPOT
  PMPCFG 5, PMP_NAPOT | PMP_R | PMP_W
  li gp, 30
  ACCESS_FAULTS PRV_S, CAUSE_LOAD_ACCESS, ld, P5 + 0x100
  li gp, 31
  ACCESS_OK PRV_S, sd, P6
  ACCESS_OK PRV_U, ld, P4
  # Entry 15 (RWX) does not rescue P5: the first match decides.
  li gp, 32
  ACCESS_FAULTS PRV_U, CAUSE_LOAD_ACCESS, lbu, P5 + 0xfff

  # No matching entry: S and U fault, M does not.
  li gp, 33
  EXPECT_TRAP CAUSE_LOAD_ACCESS, 1f
  li a1, UNMATCHED
  GOTO_MODE PRV_S, 2f
2:
  ld a4, 0(a1)
  FAIL
1:
  CHECK s9, UNMATCHED
  li gp, 34
  EXPECT_TRAP CAUSE_STORE_ACCESS, 1f
  li a1, UNMATCHED
  GOTO_MODE PRV_U, 2f
2:
  sd a4, 0(a1)
  FAIL
1:
  CHECK s9, UNMATCHED
  li gp, 35
  li a1, UNMATCHED
  li a2, 0x5a5a
  sd a2, 0(a1)
  ld a4, 0(a1)
  CHECK a4, 0x5a5a

  # MPRV: M's loads and stores are checked with MPP's privilege (fetches are not).
  li gp, 36
  li t1, MSTATUS_MPP
  csrc mstatus, t1
  li t1, (PRV_S << 11)
  csrs mstatus, t1
  EXPECT_TRAP CAUSE_STORE_ACCESS, 1f
  la a1, area + P0
  li t1, MSTATUS_MPRV
  csrs mstatus, t1
  sd zero, 0(a1)
  FAIL
1:
  CHECK s6, PRV_M
  CHECK_EQ s9, a1
  li t1, MSTATUS_MPRV
  csrc mstatus, t1
  li gp, 37
  li t1, MSTATUS_MPP
  csrc mstatus, t1
  li t1, (PRV_U << 11)             # (the trap above set MPP to M)
  csrs mstatus, t1
  EXPECT_TRAP CAUSE_LOAD_ACCESS, 1f
  li a1, UNMATCHED
  li t1, MSTATUS_MPRV
  csrs mstatus, t1
  ld a4, 0(a1)
  FAIL
1:
  CHECK s9, UNMATCHED
  li t1, MSTATUS_MPRV
  csrc mstatus, t1
  li gp, 38
  li t1, MSTATUS_MPP
  csrs mstatus, t1                 # MPP = M: no restriction
  li t1, MSTATUS_MPRV
  csrs mstatus, t1
  li a1, UNMATCHED
  ld a4, 0(a1)
  CHECK a4, 0x5a5a
  li t1, MSTATUS_MPRV
  csrc mstatus, t1

  # Paging: an identity gigapage over 0x80000000 for S (Sv39). P3 is read in S (its translation
  # is now cached), then PMP denies P3 and sfence.vma follows: the next load must see the new
  # PMP rule (an access fault, not a page fault and not the old permission).
  li a1, 0x80000000
  SET_PTE root, 2, a1, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  la a1, root
  srli a1, a1, 12
  li a2, SATP_SV39
  or a1, a1, a2
  csrw satp, a1
  sfence.vma
  li gp, 39
  ACCESS_OK PRV_S, ld, P3 + 0x40
  PMPADDR 6, P3, 0x1ff
  PMPCFG 6, PMP_NAPOT | PMP_X
  sfence.vma
  li gp, 40
  ACCESS_FAULTS PRV_S, CAUSE_LOAD_ACCESS, ld, P3 + 0x40
  li gp, 41
  ACCESS_FAULTS PRV_S, CAUSE_STORE_ACCESS, sd, P3 + 0x48
  PMPCFG 6, PMP_NAPOT | PMP_R | PMP_W
  sfence.vma
  li gp, 42
  ACCESS_OK PRV_S, sd, P3 + 0x40
  ACCESS_OK PRV_S, ld, P3 + 0x40
  # The page-table walk is checked too (as an S-mode read): a leaf table made unreadable turns
  # loads, stores and fetches through it into access faults of their own kind, tval = the VA.
  # VA 0x2000 -> P2 (code, X), VA 0x3000 -> P3 (RW) through root[0] -> l1 -> l0.
  la a1, l1
  SET_PTE root, 0, a1, PTE_V
  la a1, l0
  SET_PTE l1, 0, a1, PTE_V
  la a1, area + P2
  SET_PTE l0, 2, a1, PTE_V | PTE_R | PTE_X | PTE_A
  la a1, area + P3
  SET_PTE l0, 3, a1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
  sfence.vma
  li gp, 43
  VA_ACCESS_OK ld, 0x3000
  la t1, l0
  srli t1, t1, 2
  ori t1, t1, 0x1ff
  csrw pmpaddr7, t1
  PMPCFG 7, PMP_NAPOT | PMP_X
  sfence.vma
  li gp, 44
  VA_ACCESS_FAULTS CAUSE_LOAD_ACCESS, ld, 0x3000
  li gp, 45
  VA_ACCESS_FAULTS CAUSE_STORE_ACCESS, sd, 0x3008
  li gp, 46
  EXPECT_TRAP CAUSE_FETCH_ACCESS, 1f
  GOTO_MODE PRV_S, 2f
2:
  li a1, 0x2000
  jalr a1
  FAIL
1:
  CHECK s6, PRV_M
  CHECK s8, 0x2000
  CHECK s9, 0x2000
  PMPCFG 7, 0
  sfence.vma
  li gp, 47
  VA_ACCESS_OK ld, 0x3000
  GOTO_MODE PRV_S, 2f
2:
  li a4, 0
  li a1, 0x2000
  jalr a1
  CHECK a4, 42
  BACK_TO_M PRV_S
  csrw satp, zero
  sfence.vma

  # L bit. A lower-numbered unlocked entry still decides for M: entry 5 (P4-P7, RW) shadows a
  # locked read-only entry 8 over P7 until entry 5 is turned off.
  PMPCFG 4, 0
  PMPADDR 8, P7, 0x1ff
  PMPCFG 8, PMP_NAPOT | PMP_R | PMP_L
  li gp, 48
  la a1, area + P7
  sd a1, 0(a1)
  ld a4, 0(a1)
  CHECK_EQ a4, a1
  PMPCFG 5, 0
  li gp, 49
  EXPECT_TRAP CAUSE_STORE_ACCESS, 1f
  la a1, area + P7 + 0x10
  sd zero, 0(a1)
  FAIL
1:
  CHECK s6, PRV_M
  CHECK_EQ s9, a1
  li gp, 50
  la a1, area + P7
  ld a4, 0(a1)                     # R is granted to M too
  CHECK_EQ a4, a1
  li gp, 51                        # S is bound by it as well
  ACCESS_FAULTS PRV_S, CAUSE_STORE_ACCESS, sd, P7
  ACCESS_OK PRV_S, ld, P7
  # A locked entry ignores writes to its pmpcfg byte and its pmpaddr.
  li gp, 52
  PMPCFG 8, PMP_NAPOT | PMP_R | PMP_W | PMP_X
  csrr a4, pmpcfg2
  andi a4, a4, 0xff
  CHECK a4, PMP_NAPOT | PMP_R | PMP_L
  li gp, 53
  csrr a2, pmpaddr8
  csrw pmpaddr8, zero
  csrr a4, pmpaddr8
  CHECK_EQ a4, a2
  # A locked TOR entry also locks its base register: entry 11 = TOR [P5, P6), locked,
  # execute-only, so pmpaddr10 (entry 10 itself off) ignores writes, and M may not read P5.
  PMPADDR 10, P5
  PMPADDR 11, P6
  PMPCFG 11, PMP_TOR | PMP_X | PMP_L
  li gp, 54
  csrr a2, pmpaddr10
  csrw pmpaddr10, zero
  csrr a4, pmpaddr10
  CHECK_EQ a4, a2
  li gp, 55
  EXPECT_TRAP CAUSE_LOAD_ACCESS, 1f
  la a1, area + P5 + 0x20
  lw a4, 0(a1)
  FAIL
1:
  CHECK s6, PRV_M
  CHECK_EQ s9, a1
  # M is still unrestricted where no entry matches, and entry 10 (off) can still be configured.
  li gp, 56
  li a1, UNMATCHED
  ld a4, 0(a1)
  CHECK a4, 0x5a5a
  li gp, 57
  PMPCFG 10, PMP_NA4 | PMP_R
  csrr a4, pmpcfg2
  srli a4, a4, 16
  andi a4, a4, 0xff
  CHECK a4, PMP_NA4 | PMP_R
  .option pop
TEST_END

  .data
  .balign 0x8000
area:
  .skip P2
  li a4, 42                        # P2: code for the execute checks
  ret
  .balign 0x1000
  .skip 0x5000                     # P3..P7
  .balign 4096
root:
  .skip 4096
l1:
  .skip 4096
l0:
  .skip 4096
