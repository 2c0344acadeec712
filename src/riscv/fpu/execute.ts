/**
 * Entry point of the FPU: executes one OP-FP (0x53) or fused multiply-add (0x43, 0x47, 0x4b, 0x4f)
 * instruction. Returns false when the encoding is illegal (the hart then raises an illegal-instruction
 * trap). The hart checks mstatus.FS before calling and marks FS dirty afterwards.
 * (Placeholder until the FPU lands: every FP operation is illegal.)
 */
import type { FpContext } from './context.ts';

export function executeFp(_ctx: FpContext, _insn: number): boolean {
  return false;
}
