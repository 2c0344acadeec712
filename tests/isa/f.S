# F extension: single-precision arithmetic and rounding, fflags, fma, fmin/fmax NaN rules,
# compares, fclass, conversions with saturation, and NaN-boxing: every single result must be
# boxed (upper 32 bits all ones) and every improperly boxed input reads as the canonical NaN.
.include "vk.S"
.equ S1, 0x3f800000
.equ S2, 0x40000000
.equ S3, 0x40400000
.equ SM1, 0xbf800000
.equ SINF, 0x7f800000
.equ SMINF, 0xff800000
.equ SQNAN, 0x7fc00000
.equ SSNAN, 0x7f800001
.equ SMAX, 0x7f7fffff
.equ NV, 0x10
.equ DZ, 0x08
.equ OF, 0x04
.equ UF, 0x02
.equ NX, 0x01
TEST_BEGIN
  TEST_FS2 1, fadd.s, 0x40800000, 0, 0x3fc00000, 0x40200000
  TEST_FS2 2, fsub.s, SM1, 0, 0x3fc00000, 0x40200000
  TEST_FS2 3, fmul.s, 0x40c00000, 0, S2, S3
  TEST_FS2 4, fdiv.s, 0x3eaaaaab, NX, S1, S3
  TEST_FS2 5, fdiv.s, SINF, DZ, S1, 0
  TEST_FS2 6, fsub.s, SQNAN, NV, SINF, SINF
  TEST_FS2 7, fmul.s, SINF, OF | NX, SMAX, S2
  TEST_FS2 8, fmul.s, 0, UF | NX, 1, 0x3f000000
  TEST_FS2 9, fadd.s, SQNAN, NV, SSNAN, S1
  TEST_FS1 10, fsqrt.s, 0x3fb504f3, NX, S2
  TEST_FS1 11, fsqrt.s, SQNAN, NV, SM1
  # rounding: 1 + 0.75 ulp (ulp = 2^-23)
  li gp, 12
  csrwi frm, 1
  TEST_FS2 12, fadd.s, S1, NX, S1, 0x33c00000
  csrwi frm, 3
  TEST_FS2 13, fadd.s, 0x3f800001, NX, S1, 0x33c00000
  csrwi frm, 2
  TEST_FS2 14, fsub.s, 0xbf800001, NX, SM1, 0x33c00000
  csrwi frm, 0
  TEST_FS2 15, fadd.s, 0x3f800001, NX, S1, 0x33c00000
  TEST_FS3 16, fmadd.s, 0x40e00000, 0, S2, S3, S1
  TEST_FS3 17, fnmadd.s, 0xc0e00000, 0, S2, S3, S1
  TEST_FS3 18, fmsub.s, 0x40a00000, 0, S2, S3, S1
  TEST_FS3 19, fnmsub.s, 0xc0a00000, 0, S2, S3, S1
  TEST_FS3 20, fmadd.s, SQNAN, NV, SINF, 0, SQNAN
  TEST_FS2 21, fmin.s, S1, 0, S1, SQNAN
  TEST_FS2 22, fmin.s, S1, NV, SSNAN, S1
  TEST_FS2 23, fmax.s, SQNAN, 0, SQNAN, SQNAN
  TEST_FS2 24, fmin.s, 0x80000000, 0, 0, 0x80000000
  TEST_FS2 25, fmax.s, 0, 0, 0x80000000, 0
  TEST_FS2 26, fsgnjn.s, SM1, 0, S1, S1
  TEST_FS2 27, fsgnjx.s, S1, 0, SM1, SM1
  TEST_FS2_INT 28, feq.s, 0, NV, SSNAN, S1
  TEST_FS2_INT 29, flt.s, 0, NV, SQNAN, S1
  TEST_FS2_INT 30, fle.s, 1, 0, 0x80000000, 0
  TEST_FS2_INT 31, feq.s, 0, 0, SQNAN, SQNAN
  TEST_FS_CLASS 32, 1 << 0, SMINF
  TEST_FS_CLASS 33, 1 << 2, 0x80000001
  TEST_FS_CLASS 34, 1 << 5, 0x00000001
  TEST_FS_CLASS 35, 1 << 8, SSNAN
  TEST_FS_CLASS 36, 1 << 9, SQNAN
  TEST_FS_TOINT 37, fcvt.w.s, 0x7fffffff, NV, 0x4f000000
  TEST_FS_TOINT 38, fcvt.w.s, 0xffffffff80000000, 0, 0xcf000000
  TEST_FS_TOINT 39, fcvt.wu.s, 0, NV, SM1
  TEST_FS_TOINT 40, fcvt.wu.s, 0xffffffffffffffff, NV, SQNAN
  TEST_FS_TOINT 41, fcvt.l.s, 0x7fffffffffffffff, NV, SINF
  TEST_FS_TOINT 42, fcvt.lu.s, 0, NV, SMINF
  TEST_FS_TOINT 43, fcvt.w.s, -2, NX, 0xc0200000, rne
  TEST_FS_TOINT 44, fcvt.w.s, -3, NX, 0xc0200000, rdn
  TEST_FS_FROMINT 45, fcvt.s.w, 0xcf000000, 0, 0x80000000
  TEST_FS_FROMINT 46, fcvt.s.wu, 0x4f800000, NX, 0xffffffff
  TEST_FS_FROMINT 47, fcvt.s.l, 0x5f000000, NX, 0x7fffffffffffffff
  TEST_FS_FROMINT 48, fcvt.s.lu, 0x5f800000, NX, 0xffffffffffffffff
  TEST_FS_FROMINT 49, fcvt.s.l, 0x4b800002, NX, 16777219, rup
  TEST_FS_FROMINT 50, fcvt.s.l, 0x4b800002, NX, 16777219, rmm
  # NaN-boxing of inputs: an unboxed value (upper word not all ones) is the canonical NaN.
  li gp, 51
  li a1, 0x000000003f800000
  fmv.d.x fa1, a1
  li a1, S1
  fmv.w.x fa2, a1
  csrwi fflags, 0
  fadd.s fa0, fa1, fa2
  fmv.x.d a4, fa0
  CHECK a4, 0xffffffff7fc00000
  csrr a5, fflags
  CHECK a5, 0
  li gp, 52
  li a1, 0xfffffffe3f800000
  fmv.d.x fa1, a1
  fclass.s a4, fa1
  CHECK a4, 1 << 9
  li gp, 53
  fsgnj.s fa0, fa1, fa2
  fmv.x.d a4, fa0
  CHECK a4, 0xffffffff7fc00000
  # fmv.w.x boxes, fmv.x.w sign-extends.
  li gp, 54
  li a1, 0x12345678bf800000
  fmv.w.x fa0, a1
  fmv.x.d a4, fa0
  CHECK a4, 0xffffffffbf800000
  fmv.x.w a4, fa0
  CHECK a4, 0xffffffffbf800000
TEST_END
