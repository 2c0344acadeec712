/*
 * Reference executor for the FPU differential test (src/riscv/fpu/differential.test.ts).
 * Built with riscv64-linux-gnu-gcc -O1 -static and run under qemu-riscv64.
 *
 * stdin: one vector per line, hexadecimal fields "insn frm f1 f2 f3 x5".
 * The instruction word is executed as is from an executable page, with f1, f2, f3 and x5 (t0)
 * loaded from the vector, f4 and x7 (t2) preset to sentinels, frm set and fflags cleared.
 * stdout: "f4 x7 fflags" (hexadecimal) after the instruction, or "ILL" on SIGILL.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static sigjmp_buf env;

static void on_ill(int sig) {
  (void)sig;
  siglongjmp(env, 1);
}

int main(void) {
  uint32_t *page = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return 2;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_ill;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGILL, &sa, 0);
  unsigned long insn, frm;
  uint64_t in[4];
  uint64_t out[2];
  while (scanf("%lx %lx %lx %lx %lx %lx", &insn, &frm, &in[0], &in[1], &in[2], &in[3]) == 6) {
    page[0] = (uint32_t)insn;
    page[1] = 0x00008067; /* ret */
    __builtin___clear_cache((char *)page, (char *)(page + 2));
    unsigned long flags = 0;
    if (sigsetjmp(env, 1)) {
      puts("ILL");
      continue;
    }
    out[0] = 0x5a5a5a5a5a5a5a5aull;
    out[1] = 0xa5a5a5a5a5a5a5a5ull;
    __asm__ volatile(
        "fld f1, 0(%[in])\n\t"
        "fld f2, 8(%[in])\n\t"
        "fld f3, 16(%[in])\n\t"
        "ld t0, 24(%[in])\n\t"
        "fld f4, 0(%[out])\n\t"
        "ld t2, 8(%[out])\n\t"
        "fsrm %[frm]\n\t"
        "fsflags zero\n\t"
        "jalr ra, 0(%[fn])\n\t"
        "frflags %[flags]\n\t"
        "fsd f4, 0(%[out])\n\t"
        "sd t2, 8(%[out])\n\t"
        : [flags] "=&r"(flags)
        : [in] "r"(in), [out] "r"(out), [frm] "r"(frm), [fn] "r"(page)
        : "ra", "t0", "t2", "f1", "f2", "f3", "f4", "memory");
    printf("%016llx %016llx %lx\n", (unsigned long long)out[0], (unsigned long long)out[1], flags);
  }
  return 0;
}
