# The virtual-memory test environment (like riscv-tests' `v` environment, written for virtkit):
# .include after vk.S; VM_USER_BEGIN right after TEST_BEGIN moves the test into U-mode under
# Sv39, where every fetch, load and store is translated through 4 KiB pages.
#
# Mapping: VA = PA for the first 2 MiB of RAM (the program, its data and stack) with 4 KiB U
# pages (RWX, A and D set), plus a 1 GiB U page over 0x0-0x3fffffff so the test finisher (an
# MMIO register at 0x100000) can be written from U-mode when a test passes or fails. An
# unexpected trap still ends in the M-mode handler, which reports the failing test.
# Expected traps (EXPECT_TRAP) resume in M-mode: use them only before VM_USER_BEGIN or re-enter.

.macro VM_USER_BEGIN
  # root[0]: 1 GiB U page at 0 (MMIO); root[2] -> vk_vm_l1; vk_vm_l1[0] -> vk_vm_l0.
  la t1, vk_vm_root
  li t2, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
  sd t2, 0(t1)
  la t2, vk_vm_l1
  srli t2, t2, 12
  slli t2, t2, 10
  ori t2, t2, PTE_V
  sd t2, 16(t1)
  la t1, vk_vm_l1
  la t2, vk_vm_l0
  srli t2, t2, 12
  slli t2, t2, 10
  ori t2, t2, PTE_V
  sd t2, 0(t1)
  # vk_vm_l0[i] = 0x80000000 + i * 4096 for i = 0..511.
  la t1, vk_vm_l0
  li t2, (0x80000000 >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
  li t3, 512
9501:
  sd t2, 0(t1)
  addi t1, t1, 8
  addi t2, t2, 1 << 10
  addi t3, t3, -1
  bnez t3, 9501b
  la t1, vk_vm_root
  srli t1, t1, 12
  li t2, SATP_SV39
  or t1, t1, t2
  csrw satp, t1
  sfence.vma
  GOTO_MODE PRV_U, 9502f
9502:
  .pushsection .data
  .balign 4096
vk_vm_root: .skip 4096
vk_vm_l1: .skip 4096
vk_vm_l0: .skip 4096
  .popsection
.endm
