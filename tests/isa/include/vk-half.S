# Half-precision (Zfh) checks for the virtkit ISA tests; .include after vk.S. Sources are 16-bit
# patterns NaN-boxed by fmv.h.x; results are checked as the whole 64-bit register (via fmv.x.d),
# so every half result must be NaN-boxed (bits 63..16 all ones). fflags is cleared before each
# operation and checked after it. Clobbers t1, t6, a1, a4, a5, fa0-fa3.

.equ NV, 0x10
.equ DZ, 0x08
.equ OF, 0x04
.equ UF, 0x02
.equ NX, 0x01
.equ HBOX, 0xffffffffffff0000

.macro TEST_FH2_RM n, inst, rm, res, flags, v1, v2
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  li t1, \v2
  fmv.h.x fa2, t1
  csrwi fflags, 0
  \inst fa0, fa1, fa2, \rm
  fmv.x.d a4, fa0
  CHECK a4, (HBOX | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

# Two sources, dynamic rounding mode (whatever frm holds).
.macro TEST_FH2 n, inst, res, flags, v1, v2
  TEST_FH2_RM \n, \inst, dyn, \res, \flags, \v1, \v2
.endm

# Two sources, no rounding-mode operand (fmin/fmax/fsgnj*).
.macro TEST_FH2_NORM n, inst, res, flags, v1, v2
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  li t1, \v2
  fmv.h.x fa2, t1
  csrwi fflags, 0
  \inst fa0, fa1, fa2
  fmv.x.d a4, fa0
  CHECK a4, (HBOX | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FH1 n, inst, res, flags, v1, rm=dyn
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  csrwi fflags, 0
  \inst fa0, fa1, \rm
  fmv.x.d a4, fa0
  CHECK a4, (HBOX | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FH3 n, inst, res, flags, v1, v2, v3, rm=dyn
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  li t1, \v2
  fmv.h.x fa2, t1
  li t1, \v3
  fmv.h.x fa3, t1
  csrwi fflags, 0
  \inst fa0, fa1, fa2, fa3, \rm
  fmv.x.d a4, fa0
  CHECK a4, (HBOX | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

# Compares and fclass: integer results.
.macro TEST_FH2_INT n, inst, res, flags, v1, v2
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  li t1, \v2
  fmv.h.x fa2, t1
  csrwi fflags, 0
  \inst a4, fa1, fa2
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FH_CLASS n, res, v1
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  csrwi fflags, 0
  fclass.h a4, fa1
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, 0
.endm

.macro TEST_FH_TOINT n, inst, res, flags, v1, rm=dyn
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  csrwi fflags, 0
  \inst a4, fa1, \rm
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FH_FROMINT n, inst, res, flags, v1, rm=dyn
  li gp, \n
  li a1, \v1
  csrwi fflags, 0
  \inst fa0, a1, \rm
  fmv.x.d a4, fa0
  CHECK a4, (HBOX | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

# fcvt.h.s / fcvt.h.d from a single (NaN-boxed by fmv.w.x) or double source.
.macro TEST_FH_FROM_S n, rm, res, flags, v1
  li gp, \n
  li t1, \v1
  fmv.w.x fa1, t1
  csrwi fflags, 0
  fcvt.h.s fa0, fa1, \rm
  fmv.x.d a4, fa0
  CHECK a4, (HBOX | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FH_FROM_D n, rm, res, flags, v1
  li gp, \n
  li t1, \v1
  fmv.d.x fa1, t1
  csrwi fflags, 0
  fcvt.h.d fa0, fa1, \rm
  fmv.x.d a4, fa0
  CHECK a4, (HBOX | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

# fcvt.s.h / fcvt.d.h (exact: no rounding mode).
.macro TEST_FS_FROM_H n, res, flags, v1
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  csrwi fflags, 0
  fcvt.s.h fa0, fa1
  fmv.x.d a4, fa0
  CHECK a4, (0xffffffff00000000 | \res)
  csrr a5, fflags
  CHECK a5, \flags
.endm

.macro TEST_FD_FROM_H n, res, flags, v1
  li gp, \n
  li t1, \v1
  fmv.h.x fa1, t1
  csrwi fflags, 0
  fcvt.d.h fa0, fa1
  fmv.x.d a4, fa0
  CHECK a4, \res
  csrr a5, fflags
  CHECK a5, \flags
.endm
