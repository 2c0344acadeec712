# Bare-metal startup for the CPU benchmarks: M-mode, one hart. Sets up the stack, turns the FPU
# on, clears .bss, calls main() and reports its return value (0 = success) the same two ways the
# ISA tests do: the HTIF tohost word ((code << 1) | 1) and the SiFive test finisher at 0x100000
# (so the same ELF ends on virtkit and on qemu-system-riscv64 -M virt -bios none).
  .section .text.init, "ax", @progbits
  .globl _start
_start:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la sp, __stack_top
  li t0, 0x2000
  csrs mstatus, t0
  csrwi fcsr, 0
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  call main
  # a0 = result code
  slli t0, a0, 1
  ori t0, t0, 1
  la t1, tohost
  sd t0, 0(t1)
  li t1, 0x100000
  li t2, 0x5555
  beqz a0, 3f
  slli t2, a0, 16
  li t3, 0x3333
  or t2, t2, t3
3:
  sw t2, 0(t1)
4:
  j 4b

  .section .tohost, "aw", @progbits
  .balign 64
  .globl tohost
tohost: .dword 0
  .globl fromhost
fromhost: .dword 0
