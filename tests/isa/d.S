# D extension: arithmetic with every rounding mode (static and dynamic via frm), fflags for each
# IEEE exception (NV, DZ, OF, UF, NX), fused multiply-add (single rounding, inf*0+qNaN is NV),
# fmin/fmax NaN and signed-zero rules, sign injection, compares (quiet vs signalling), fclass,
# conversions with saturation and their flags, double<->single with NaN-boxing, and the illegal
# cases (reserved rounding modes, FP disabled by mstatus.FS = Off).
.include "vk.S"
.equ ONE, 0x3ff0000000000000
.equ TWO, 0x4000000000000000
.equ THREE, 0x4008000000000000
.equ MONE, 0xbff0000000000000
.equ INF, 0x7ff0000000000000
.equ MINF, 0xfff0000000000000
.equ QNAN, 0x7ff8000000000000
.equ SNAN, 0x7ff0000000000001
.equ MAXD, 0x7fefffffffffffff
.equ TQULP, 0x3ca8000000000000
.equ NV, 0x10
.equ DZ, 0x08
.equ OF, 0x04
.equ UF, 0x02
.equ NX, 0x01
TEST_BEGIN
  TEST_FD2 1, fadd.d, 0x4010000000000000, 0, 0x3ff8000000000000, 0x4004000000000000
  TEST_FD2 2, fsub.d, 0xbff0000000000000, 0, 0x3ff8000000000000, 0x4004000000000000
  TEST_FD2 3, fmul.d, 0x4018000000000000, 0, TWO, THREE
  TEST_FD2 4, fdiv.d, 0x3fe0000000000000, 0, ONE, TWO
  # 1 + 0.75 ulp in each rounding mode
  TEST_FD2_RM 5, fadd.d, rne, 0x3ff0000000000001, NX, ONE, TQULP
  TEST_FD2_RM 6, fadd.d, rtz, ONE, NX, ONE, TQULP
  TEST_FD2_RM 7, fadd.d, rdn, ONE, NX, ONE, TQULP
  TEST_FD2_RM 8, fadd.d, rup, 0x3ff0000000000001, NX, ONE, TQULP
  TEST_FD2_RM 9, fadd.d, rmm, 0x3ff0000000000001, NX, ONE, TQULP
  TEST_FD2_RM 10, fsub.d, rdn, 0xbff0000000000001, NX, MONE, TQULP
  TEST_FD2_RM 11, fsub.d, rup, MONE, NX, MONE, TQULP
  # Ties: 1 + 0.5 ulp -> even (1.0) under RNE, away under RMM.
  TEST_FD2_RM 12, fadd.d, rne, ONE, NX, ONE, 0x3ca0000000000000
  TEST_FD2_RM 13, fadd.d, rmm, 0x3ff0000000000001, NX, ONE, 0x3ca0000000000000
  # Dynamic rounding mode from frm.
  li gp, 14
  csrwi frm, 1
  TEST_FD2 14, fadd.d, ONE, NX, ONE, TQULP
  csrwi frm, 3
  TEST_FD2 15, fadd.d, 0x3ff0000000000001, NX, ONE, TQULP
  csrwi frm, 0
  # Exceptions
  TEST_FD2 16, fsub.d, QNAN, NV, INF, INF
  TEST_FD2 17, fmul.d, QNAN, NV, 0, INF
  TEST_FD2 18, fdiv.d, INF, DZ, ONE, 0
  TEST_FD2 19, fdiv.d, MINF, DZ, MONE, 0
  TEST_FD2 20, fdiv.d, QNAN, NV, 0, 0
  TEST_FD2 21, fmul.d, INF, OF | NX, MAXD, TWO
  TEST_FD2_RM 22, fmul.d, rtz, MAXD, OF | NX, MAXD, TWO
  TEST_FD2 23, fmul.d, 0x0008000000000000, 0, 0x0010000000000000, 0x3fe0000000000000
  TEST_FD2 24, fmul.d, 0, UF | NX, 1, 0x3fe0000000000000
  TEST_FD2 25, fadd.d, QNAN, 0, QNAN, ONE
  TEST_FD2 26, fadd.d, QNAN, NV, SNAN, ONE
  # NaN payloads are not propagated: result is the canonical NaN.
  TEST_FD2 27, fmul.d, QNAN, 0, 0x7ff8000000001234, ONE
  TEST_FD1 28, fsqrt.d, TWO, 0, 0x4010000000000000
  TEST_FD1 29, fsqrt.d, QNAN, NV, MONE
  TEST_FD1 30, fsqrt.d, 0x8000000000000000, 0, 0x8000000000000000
  TEST_FD1 31, fsqrt.d, 0x3ff6a09e667f3bcd, NX, TWO
  # Fused multiply-add
  TEST_FD3 32, fmadd.d, 0x401c000000000000, 0, TWO, THREE, ONE
  TEST_FD3 33, fmsub.d, 0x4014000000000000, 0, TWO, THREE, ONE
  TEST_FD3 34, fnmsub.d, 0xc014000000000000, 0, TWO, THREE, ONE
  TEST_FD3 35, fnmadd.d, 0xc01c000000000000, 0, TWO, THREE, ONE
  TEST_FD3 36, fmadd.d, 0xb970000000000000, 0, 0x3ff0000000000001, 0x3feffffffffffffe, MONE
  TEST_FD3 37, fmadd.d, QNAN, NV, INF, 0, QNAN
  TEST_FD3 38, fmadd.d, QNAN, NV, INF, ONE, MINF
  # fmin / fmax
  TEST_FD2 39, fmin.d, ONE, 0, ONE, QNAN
  TEST_FD2 40, fmin.d, ONE, NV, SNAN, ONE
  TEST_FD2 41, fmax.d, QNAN, 0, QNAN, QNAN
  TEST_FD2 42, fmax.d, QNAN, NV, SNAN, QNAN
  TEST_FD2 43, fmin.d, 0x8000000000000000, 0, 0, 0x8000000000000000
  TEST_FD2 44, fmax.d, 0, 0, 0x8000000000000000, 0
  TEST_FD2 45, fmax.d, ONE, 0, MONE, ONE
  # sign injection (raw bit operations, NaNs untouched, no flags)
  TEST_FD2 46, fsgnj.d, 0xbff0000000000000, 0, ONE, MONE
  TEST_FD2 47, fsgnjn.d, 0x3ff0000000000000, 0, ONE, MONE
  TEST_FD2 48, fsgnjx.d, 0x3ff0000000000000, 0, MONE, MONE
  TEST_FD2 49, fsgnj.d, 0xfff0000000000001, 0, SNAN, MONE
  # compares
  TEST_FD2_INT 50, feq.d, 1, 0, ONE, ONE
  TEST_FD2_INT 51, feq.d, 0, 0, QNAN, QNAN
  TEST_FD2_INT 52, feq.d, 0, NV, SNAN, ONE
  TEST_FD2_INT 53, flt.d, 0, NV, QNAN, ONE
  TEST_FD2_INT 54, fle.d, 1, 0, 0x8000000000000000, 0
  TEST_FD2_INT 55, flt.d, 0, 0, 0x8000000000000000, 0
  TEST_FD2_INT 56, flt.d, 1, 0, MINF, MONE
  TEST_FD2_INT 57, feq.d, 1, 0, 0x8000000000000000, 0
  # fclass
  TEST_FD_CLASS 58, 1 << 0, MINF
  TEST_FD_CLASS 59, 1 << 1, MONE
  TEST_FD_CLASS 60, 1 << 2, 0x8000000000000001
  TEST_FD_CLASS 61, 1 << 3, 0x8000000000000000
  TEST_FD_CLASS 62, 1 << 4, 0
  TEST_FD_CLASS 63, 1 << 5, 1
  TEST_FD_CLASS 64, 1 << 6, ONE
  TEST_FD_CLASS 65, 1 << 7, INF
  TEST_FD_CLASS 66, 1 << 8, SNAN
  TEST_FD_CLASS 67, 1 << 9, QNAN
  # float -> int with saturation
  TEST_FD_TOINT 68, fcvt.w.d, 3, NX, 0x400d99999999999a, rtz
  TEST_FD_TOINT 69, fcvt.w.d, -4, NX, 0xc00c000000000000, rne
  TEST_FD_TOINT 70, fcvt.w.d, -3, NX, 0xc00c000000000000, rtz
  TEST_FD_TOINT 71, fcvt.w.d, -4, NX, 0xc00c000000000000, rmm
  TEST_FD_TOINT 72, fcvt.w.d, 0x7fffffff, NV, 0x4202a05f20000000
  TEST_FD_TOINT 73, fcvt.w.d, 0xffffffff80000000, NV, 0xc202a05f20000000
  TEST_FD_TOINT 74, fcvt.w.d, 0x7fffffff, NV, QNAN
  TEST_FD_TOINT 75, fcvt.w.d, 0xffffffff80000000, NV, MINF
  TEST_FD_TOINT 76, fcvt.w.d, 0x7fffffff, NV, INF
  TEST_FD_TOINT 77, fcvt.wu.d, 0, NV, MONE
  TEST_FD_TOINT 78, fcvt.wu.d, 0, NX, 0xbfe0000000000000, rtz
  TEST_FD_TOINT 79, fcvt.wu.d, 0xffffffffffffffff, NV, QNAN
  TEST_FD_TOINT 80, fcvt.wu.d, 0xffffffffffffffff, 0, 0x41efffffffe00000
  TEST_FD_TOINT 81, fcvt.wu.d, 0xffffffffffffffff, NV, 0x41f0000000000000
  TEST_FD_TOINT 82, fcvt.l.d, 0x7fffffffffffffff, NV, 0x43e0000000000000
  TEST_FD_TOINT 83, fcvt.l.d, 0x8000000000000000, 0, 0xc3e0000000000000
  TEST_FD_TOINT 84, fcvt.l.d, 0x7fffffffffffffff, NV, QNAN
  TEST_FD_TOINT 85, fcvt.l.d, 0x7ffffffffffffc00, 0, 0x43dfffffffffffff
  TEST_FD_TOINT 86, fcvt.lu.d, 0xffffffffffffffff, NV, 0x43f0000000000000
  TEST_FD_TOINT 87, fcvt.lu.d, 0, NV, MONE
  TEST_FD_TOINT 88, fcvt.lu.d, 0x8000000000000000, 0, 0x43e0000000000000
  TEST_FD_TOINT 89, fcvt.l.d, 2, NX, 0x4004000000000000, rne
  TEST_FD_TOINT 90, fcvt.l.d, 3, NX, 0x4004000000000000, rup
  # int -> float
  TEST_FD_FROMINT 91, fcvt.d.l, 0x43e0000000000000, NX, 0x7fffffffffffffff
  TEST_FD_FROMINT 92, fcvt.d.l, 0x43dfffffffffffff, NX, 0x7fffffffffffffff, rtz
  TEST_F_FROMINT_EXACT 93, fcvt.d.w, 0xbff0000000000000, 0x00000000ffffffff
  TEST_F_FROMINT_EXACT 94, fcvt.d.wu, 0x41efffffffe00000, 0xffffffffffffffff
  TEST_FD_FROMINT 95, fcvt.d.lu, 0x43f0000000000000, NX, 0xffffffffffffffff
  TEST_FD_FROMINT 96, fcvt.d.l, 0xc3e0000000000000, 0, 0x8000000000000000
  # double <-> single
  TEST_FD1 97, fcvt.s.d, 0xffffffff3f800000, NX, 0x3ff0000000000001
  TEST_FD1 98, fcvt.s.d, 0xffffffff7f800000, OF | NX, 0x7e37e43c8800759c
  TEST_FD1 99, fcvt.s.d, 0xffffffff7fc00000, NV, SNAN
  TEST_FD1 100, fcvt.d.s, 0x3ff0000000000000, 0, 0xffffffff3f800000
  TEST_FD1 101, fcvt.d.s, QNAN, NV, 0xffffffff7f800001
  # An improperly NaN-boxed single is read as the canonical NaN (quiet: no NV).
  TEST_FD1 102, fcvt.d.s, QNAN, 0, 0x000000003f800000
  # fmv.x.w sign-extends the low 32 bits (no NaN-box check); fmv.x.d / fmv.d.x are raw.
  li gp, 103
  li a1, 0x1234567880000000
  fmv.d.x fa0, a1
  fmv.x.w a4, fa0
  CHECK a4, 0xffffffff80000000
  # Loads and stores: fld/fsd raw 64 bits, flw NaN-boxes, fsw stores the low 32 bits.
  li gp, 104
  la a1, fdat
  fld fa0, 0(a1)
  fmv.x.d a4, fa0
  CHECK a4, 0x7ff0000000000001
  li gp, 105
  flw fa1, 8(a1)
  fmv.x.d a4, fa1
  CHECK a4, 0xffffffff3f800000
  li gp, 106
  fsw fa0, 16(a1)
  lwu a4, 16(a1)
  CHECK a4, 1
  fsd fa1, 24(a1)
  ld a4, 24(a1)
  CHECK a4, 0xffffffff3f800000
  # fflags accumulate until cleared; writing fflags through fcsr.
  li gp, 107
  csrwi fflags, 0
  li a1, ONE
  fmv.d.x fa1, a1
  fmv.d.x fa2, zero
  fdiv.d fa0, fa1, fa2
  fsqrt.d fa0, fa0
  li a1, MONE
  fmv.d.x fa1, a1
  fsqrt.d fa0, fa1
  csrr a4, fflags
  CHECK a4, NV | DZ
  # Reserved rounding modes: static rm 5 is illegal; dynamic with frm = 5..7 is illegal.
  li gp, 108
  .option push
  .option norvc
  EXPECT_TRAP CAUSE_ILLEGAL, 1f
2:
  .insn r 0x53, 5, 1, fa0, fa1, fa2
  FAIL
1:
  CHECK_TRAP_AT PRV_M, 2b
  CHECK_ILLEGAL_TVAL 2b
  li gp, 109
  csrwi frm, 7
  EXPECT_TRAP CAUSE_ILLEGAL, 3f
4:
  fadd.d fa0, fa1, fa2
  FAIL
3:
  CHECK_TRAP_AT PRV_M, 4b
  # frm = 7 does not affect instructions with a static mode or no rounding.
  fadd.d fa0, fa1, fa2, rne
  fsgnj.d fa0, fa1, fa2
  csrwi frm, 0
  # mstatus.FS = Off makes every FP instruction and FP CSR access illegal.
  li gp, 110
  li a1, MSTATUS_FS
  csrc mstatus, a1
  EXPECT_TRAP CAUSE_ILLEGAL, 5f
6:
  fadd.d fa0, fa1, fa2
  FAIL
5:
  CHECK_TRAP_AT PRV_M, 6b
  li gp, 111
  EXPECT_TRAP CAUSE_ILLEGAL, 7f
8:
  csrr a4, fflags
  FAIL
7:
  CHECK_TRAP_AT PRV_M, 8b
  li gp, 112
  EXPECT_TRAP CAUSE_ILLEGAL, 9f
10:
  fmv.x.d a4, fa0
  FAIL
9:
  # Re-enabled as Initial: an FP register write makes FS Dirty (SD set).
  li gp, 113
  li a1, 0x2000
  csrs mstatus, a1
  csrr a4, mstatus
  srli a4, a4, 13
  andi a4, a4, 3
  CHECK a4, 1
  fmv.d.x fa0, zero
  csrr a4, mstatus
  srli a5, a4, 13
  andi a5, a5, 3
  CHECK a5, 3
  bgez a4, vk_fail
  .option pop
TEST_END

  .data
  .balign 8
fdat:
  .dword 0x7ff0000000000001
  .word 0x3f800000, 0
  .dword 0, 0
