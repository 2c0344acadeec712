/**
 * A bare-metal RISC-V program small enough to write out here, so the install test needs no cross
 * compiler: it prints "ok" on the NS16550A UART and reports success to the SiFive test finisher.
 */

const T0 = 5;
const T1 = 6;
const lui = (rd: number, imm20: number) => ((imm20 << 12) | (rd << 7) | 0x37) >>> 0;
const addi = (rd: number, rs1: number, imm: number) => ((imm << 20) | (rs1 << 15) | (rd << 7) | 0x13) >>> 0;
/** sb/sw with a zero offset: funct3 0 = byte, 2 = word. */
const store = (funct3: number, rs2: number, rs1: number) => ((rs2 << 20) | (rs1 << 15) | (funct3 << 12) | 0x23) >>> 0;

/** The program's text: one word per instruction. */
export function helloCode(text = 'ok\n'): number[] {
  const code = [lui(T0, 0x10000)]; // t0 = 0x1000_0000, the UART's transmit register
  for (const ch of text) code.push(addi(T1, 0, ch.charCodeAt(0)), store(0, T1, T0));
  code.push(lui(T0, 0x100)); // t0 = 0x10_0000, the test finisher
  code.push(lui(T1, 0x5), addi(T1, T1, 0x555)); // t1 = 0x5555, "pass"
  code.push(store(2, T1, T0));
  code.push(0x6f); // j . (never reached)
  return code;
}

/** An ELF64 RISC-V executable with the code as one segment loaded and entered at 0x80000000. */
export function tinyElf(code = helloCode()): Uint8Array {
  const EHDR = 64;
  const PHDR = 56;
  const text = EHDR + PHDR;
  const buf = new Uint8Array(text + code.length * 4);
  const v = new DataView(buf.buffer);
  buf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // ELF, 64-bit, little-endian, version 1
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 0xf3, true); // EM_RISCV
  v.setUint32(20, 1, true);
  v.setBigUint64(24, 0x8000_0000n, true); // e_entry
  v.setBigUint64(32, BigInt(EHDR), true); // e_phoff
  v.setUint16(52, EHDR, true);
  v.setUint16(54, PHDR, true);
  v.setUint16(56, 1, true); // e_phnum
  v.setUint16(58, 64, true); // e_shentsize (no sections)
  v.setUint32(EHDR, 1, true); // PT_LOAD
  v.setUint32(EHDR + 4, 5, true); // R + X
  v.setBigUint64(EHDR + 8, BigInt(text), true); // p_offset
  v.setBigUint64(EHDR + 16, 0x8000_0000n, true); // p_vaddr
  v.setBigUint64(EHDR + 24, 0x8000_0000n, true); // p_paddr
  v.setBigUint64(EHDR + 32, BigInt(code.length * 4), true); // p_filesz
  v.setBigUint64(EHDR + 40, BigInt(code.length * 4), true); // p_memsz
  v.setBigUint64(EHDR + 48, 4n, true); // p_align
  code.forEach((w, i) => v.setUint32(text + i * 4, w, true));
  return buf;
}
