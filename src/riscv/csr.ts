/** CSR numbers and bit masks (privileged architecture 1.12, RV64). */

export const FFLAGS = 0x001;
export const FRM = 0x002;
export const FCSR = 0x003;
export const CYCLE = 0xc00;
export const TIME = 0xc01;
export const INSTRET = 0xc02;
export const HPMCOUNTER3 = 0xc03;
export const HPMCOUNTER31 = 0xc1f;

export const SSTATUS = 0x100;
export const SIE = 0x104;
export const STVEC = 0x105;
export const SCOUNTEREN = 0x106;
export const SENVCFG = 0x10a;
export const SSCRATCH = 0x140;
export const SEPC = 0x141;
export const SCAUSE = 0x142;
export const STVAL = 0x143;
export const SIP = 0x144;
export const STIMECMP = 0x14d;
export const SATP = 0x180;

export const MVENDORID = 0xf11;
export const MARCHID = 0xf12;
export const MIMPID = 0xf13;
export const MHARTID = 0xf14;
export const MCONFIGPTR = 0xf15;
export const MSTATUS = 0x300;
export const MISA = 0x301;
export const MEDELEG = 0x302;
export const MIDELEG = 0x303;
export const MIE = 0x304;
export const MTVEC = 0x305;
export const MCOUNTEREN = 0x306;
export const MENVCFG = 0x30a;
export const MCOUNTINHIBIT = 0x320;
export const MHPMEVENT3 = 0x323;
export const MHPMEVENT31 = 0x33f;
export const MSCRATCH = 0x340;
export const MEPC = 0x341;
export const MCAUSE = 0x342;
export const MTVAL = 0x343;
export const MIP = 0x344;
export const PMPCFG0 = 0x3a0;
export const PMPADDR0 = 0x3b0;
export const TSELECT = 0x7a0;
export const TDATA1 = 0x7a1;
export const TDATA2 = 0x7a2;
export const TDATA3 = 0x7a3;
export const MCYCLE = 0xb00;
export const MINSTRET = 0xb02;
export const MHPMCOUNTER3 = 0xb03;
export const MHPMCOUNTER31 = 0xb1f;

// mstatus (low word)
export const MSTATUS_SIE = 1 << 1;
export const MSTATUS_MIE = 1 << 3;
export const MSTATUS_SPIE = 1 << 5;
export const MSTATUS_MPIE = 1 << 7;
export const MSTATUS_SPP = 1 << 8;
export const MSTATUS_MPP = 3 << 11;
export const MSTATUS_FS = 3 << 13;
export const MSTATUS_MPRV = 1 << 17;
export const MSTATUS_SUM = 1 << 18;
export const MSTATUS_MXR = 1 << 19;
export const MSTATUS_TVM = 1 << 20;
export const MSTATUS_TW = 1 << 21;
export const MSTATUS_TSR = 1 << 22;
/** High word: UXL = 2 (bits 32-33), SXL = 2 (bits 34-35); SD is bit 63. */
export const MSTATUS_HI_UXL = 2;
export const MSTATUS_HI_SXL = 8;

export const MSTATUS_WMASK =
  MSTATUS_SIE |
  MSTATUS_MIE |
  MSTATUS_SPIE |
  MSTATUS_MPIE |
  MSTATUS_SPP |
  MSTATUS_MPP |
  MSTATUS_FS |
  MSTATUS_MPRV |
  MSTATUS_SUM |
  MSTATUS_MXR |
  MSTATUS_TVM |
  MSTATUS_TW |
  MSTATUS_TSR;
/** Bits of mstatus visible through sstatus (SIE, SPIE, SPP, FS, XS, SUM, MXR). */
export const SSTATUS_MASK =
  MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | (3 << 15) | MSTATUS_SUM | MSTATUS_MXR;
export const SSTATUS_WMASK = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;

// interrupts
export const MIP_SSIP = 1 << 1;
export const MIP_MSIP = 1 << 3;
export const MIP_STIP = 1 << 5;
export const MIP_MTIP = 1 << 7;
export const MIP_SEIP = 1 << 9;
export const MIP_MEIP = 1 << 11;
export const MIE_MASK = 0xaaa;
/** mip bits M-mode software may write: SSIP, STIP, SEIP. */
export const MIP_WMASK = MIP_SSIP | MIP_STIP | MIP_SEIP;
export const MIDELEG_MASK = MIP_SSIP | MIP_STIP | MIP_SEIP;
/** Exceptions that may be delegated: all defined causes except ECALL from M (11). */
export const MEDELEG_MASK = 0xb3ff;
/** Interrupt priority: MEI, MSI, MTI, SEI, SSI, STI. */
export const IRQ_PRIORITY: readonly number[] = [11, 3, 7, 9, 1, 5];

/** menvcfg.STCE is bit 63: bit 31 of the high word. */
export const ENVCFG_STCE_HI = -0x80000000;
/** menvcfg.PBMTE (Svpbmt) is bit 62: bit 30 of the high word. */
export const ENVCFG_PBMTE_HI = 0x40000000;
/** xenvcfg low word: FIOM (0), CBIE (5:4, Zicbom), CBCFE (6, Zicbom), CBZE (7, Zicboz). */
export const ENVCFG_FIOM = 1;
export const ENVCFG_CBIE = 0x30;
export const ENVCFG_CBCFE = 0x40;
export const ENVCFG_CBZE = 0x80;

/** misa: MXL=2 (RV64); extensions A, B, C, D, F, I, M, S, U. */
export const MISA_LO =
  (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
export const MISA_HI = -0x80000000;

/** Hart fields saved verbatim by saveState (all int32). */
export const SAVED_FIELDS = [
  'mstatus',
  'medeleg',
  'mideleg',
  'mie',
  'mtvecLo',
  'mtvecHi',
  'stvecLo',
  'stvecHi',
  'mepcLo',
  'mepcHi',
  'sepcLo',
  'sepcHi',
  'mcauseLo',
  'mcauseHi',
  'scauseLo',
  'scauseHi',
  'mtvalLo',
  'mtvalHi',
  'stvalLo',
  'stvalHi',
  'mscratchLo',
  'mscratchHi',
  'sscratchLo',
  'sscratchHi',
  'mcounteren',
  'scounteren',
  'mcountinhibit',
  'menvcfgLo',
  'menvcfgHi',
  'senvcfg',
  'satpLo',
  'satpHi',
  'stimecmpLo',
  'stimecmpHi',
] as const;
