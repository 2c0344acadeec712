# The virtual-memory environment (include/vk-vm.S): Zbkb, Zbkc/Zbc, Zbkx, Zicond and Zfh run in
# U-mode under Sv39 with 4 KiB pages (every fetch and data access translated), as riscv-tests'
# `v` environment runs its user tests. Expected values: tests 1-130 from tests/isa/ref/bitmanip.py
# (`python3 tests/isa/ref/bitmanip.py 1`), tests 1001 on from every fourth line of
# `python3 tests/isa/ref/half.py 1001` (both independent Python references; see zfh.S).
# Test 2000 checks that the tests really ran in U-mode with paging on.
.include "vk.S"
.include "vk-half.S"
.include "vk-vm.S"
.macro czero_eqz rd, rs1, rs2
  .insn r 0x33, 5, 7, \rd, \rs1, \rs2
.endm
.macro czero_nez rd, rs1, rs2
  .insn r 0x33, 7, 7, \rd, \rs1, \rs2
.endm
TEST_BEGIN
  VM_USER_BEGIN
  TEST_RR 1, andn, 0xf0c0928034041200, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 2, andn, 0x8000000000000000, 0x8000000000000001, 0x41
  TEST_RR 3, andn, 0x7fff0000, 0xffff0000, 0xffffffff80000003
  TEST_RR 4, andn, 0x1030527898bcdef0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 5, andn, 0xa5a5a5a55a5a5a5a, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 6, orn, 0xfefdfadbf6f5b697, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 7, orn, 0xffffffffffffffbf, 0x8000000000000001, 0x41
  TEST_RR 8, orn, 0xfffffffc, 0xffff0000, 0xffffffff80000003
  TEST_RR 9, orn, 0xfafdfefbfefdfeff, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 10, orn, 0xffffffffffffffff, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 11, xnor, 0xe3d685bc2f1a497, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 12, xnor, 0x7fffffffffffffbf, 0x8000000000000001, 0x41
  TEST_RR 13, xnor, 0x8000fffc, 0xffff0000, 0xffffffff80000003
  TEST_RR 14, xnor, 0xeacdac836641200f, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 15, xnor, 0x5a5a5a5aa5a5a5a5, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 16, rol, 0x10fedcba98765432, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 17, rol, 0x3, 0x8000000000000001, 0x41
  TEST_RR 18, rol, 0x7fff80000, 0xffff0000, 0xffffffff80000003
  TEST_RR 19, rol, 0x123456789abcdef0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 20, rol, 0xa5a5a5a55a5a5a5a, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 21, ror, 0xdcba9876543210fe, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 22, ror, 0xc000000000000000, 0x8000000000000001, 0x41
  TEST_RR 23, ror, 0x1fffe000, 0xffff0000, 0xffffffff80000003
  TEST_RR 24, ror, 0x123456789abcdef0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 25, ror, 0xa5a5a5a55a5a5a5a, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 26, rolw, 0x10765432, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 27, rolw, 0x2, 0x8000000000000001, 0x41
  TEST_RR 28, rolw, 0xfffffffffff80007, 0xffff0000, 0xffffffff80000003
  TEST_RR 29, rolw, 0xffffffff9abcdef0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 30, rolw, 0x5a5a5a5a, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 31, rorw, 0x54321076, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 32, rorw, 0xffffffff80000000, 0x8000000000000001, 0x41
  TEST_RR 33, rorw, 0x1fffe000, 0xffff0000, 0xffffffff80000003
  TEST_RR 34, rorw, 0xffffffff9abcdef0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 35, rorw, 0x5a5a5a5a, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 36, pack, 0x4b5a697876543210, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 37, pack, 0x4100000001, 0x8000000000000001, 0x41
  TEST_RR 38, pack, 0x80000003ffff0000, 0xffff0000, 0xffffffff80000003
  TEST_RR 39, pack, 0x30201009abcdef0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 40, pack, 0x5a5a5a5a, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 41, packh, 0x7810, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 42, packh, 0x4101, 0x8000000000000001, 0x41
  TEST_RR 43, packh, 0x300, 0xffff0000, 0xffffffff80000003
  TEST_RR 44, packh, 0xf0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 45, packh, 0x5a, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 46, packw, 0x69783210, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 47, packw, 0x410001, 0x8000000000000001, 0x41
  TEST_RR 48, packw, 0x30000, 0xffff0000, 0xffffffff80000003
  TEST_RR 49, packw, 0x100def0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 50, packw, 0x5a5a, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 51, clmul, 0x2524d40816ace780, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 52, clmul, 0x8000000000000041, 0x8000000000000001, 0x41
  TEST_RR 53, clmul, 0x2aaa800100010000, 0xffff0000, 0xffffffff80000003
  TEST_RR 54, clmul, 0x227ec340113ef000, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 55, clmul, 0x0, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 56, clmulh, 0x504f428368cc7a0, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 57, clmulh, 0x20, 0x8000000000000001, 0x41
  TEST_RR 58, clmulh, 0x55550000, 0xffff0000, 0xffffffff80000003
  TEST_RR 59, clmulh, 0x7ee140333ed200, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 60, clmulh, 0x0, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 61, clmulr, 0xa09e8506d198f40, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 62, clmulr, 0x41, 0x8000000000000001, 0x41
  TEST_RR 63, clmulr, 0xaaaa0000, 0xffff0000, 0xffffffff80000003
  TEST_RR 64, clmulr, 0xfdc280667da400, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 65, clmulr, 0x0, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 66, xperm4, 0xf1e2d3c4b5a6978, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 67, xperm4, 0x1111111111111100, 0x8000000000000001, 0x41
  TEST_RR 68, xperm4, 0x0, 0xffff0000, 0xffffffff80000003
  TEST_RR 69, xperm4, 0x90a0b0c0d0e0f00, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 70, xperm4, 0xaaaaaaaaaaaaaaaa, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 71, xperm8, 0x0, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 72, xperm8, 0x101010101010100, 0x8000000000000001, 0x41
  TEST_RR 73, xperm8, 0xff, 0xffff0000, 0xffffffff80000003
  TEST_RR 74, xperm8, 0x123456789abcdef0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 75, xperm8, 0x5a5a5a5a5a5a5a5a, 0xa5a5a5a55a5a5a5a, 0x0
.ifndef QEMU                     # QEMU 7.2 has no Zicond
  TEST_RR 76, czero_eqz, 0xfedcba9876543210, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 77, czero_eqz, 0x8000000000000001, 0x8000000000000001, 0x41
  TEST_RR 78, czero_eqz, 0xffff0000, 0xffff0000, 0xffffffff80000003
  TEST_RR 79, czero_eqz, 0x123456789abcdef0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 80, czero_eqz, 0x0, 0xa5a5a5a55a5a5a5a, 0x0
  TEST_RR 81, czero_nez, 0x0, 0xfedcba9876543210, 0xf1e2d3c4b5a6978
  TEST_RR 82, czero_nez, 0x0, 0x8000000000000001, 0x41
  TEST_RR 83, czero_nez, 0x0, 0xffff0000, 0xffffffff80000003
  TEST_RR 84, czero_nez, 0x0, 0x123456789abcdef0, 0x706050403020100
  TEST_RR 85, czero_nez, 0xa5a5a5a55a5a5a5a, 0xa5a5a5a55a5a5a5a, 0x0
.endif
  TEST_R 86, brev8, 0x7f3b5d196e2a4c08, 0xfedcba9876543210
  TEST_R 87, rev8, 0x1032547698badcfe, 0xfedcba9876543210
  TEST_R 88, brev8, 0x100000000000080, 0x8000000000000001
  TEST_R 89, rev8, 0x100000000000080, 0x8000000000000001
  TEST_R 90, brev8, 0xffff0000, 0xffff0000
  TEST_R 91, rev8, 0xffff00000000, 0xffff0000
  TEST_R 92, brev8, 0x482c6a1e593d7b0f, 0x123456789abcdef0
  TEST_R 93, rev8, 0xf0debc9a78563412, 0x123456789abcdef0
  TEST_R 94, brev8, 0xa5a5a5a55a5a5a5a, 0xa5a5a5a55a5a5a5a
  TEST_R 95, rev8, 0x5a5a5a5aa5a5a5a5, 0xa5a5a5a55a5a5a5a
  TEST_RI 96, rori, 0xfedcba9876543210, 0xfedcba9876543210, 0
  TEST_RI 97, rori, 0x7f6e5d4c3b2a1908, 0xfedcba9876543210, 1
  TEST_RI 98, rori, 0xeca86421fdb97530, 0xfedcba9876543210, 31
  TEST_RI 99, rori, 0xfdb97530eca86421, 0xfedcba9876543210, 63
  TEST_RI 100, roriw, 0x76543210, 0xfedcba9876543210, 0
  TEST_RI 101, roriw, 0xffffffff83b2a190, 0xfedcba9876543210, 5
  TEST_RI 102, roriw, 0xffffffffeca86420, 0xfedcba9876543210, 31
  TEST_RI 103, rori, 0x8000000000000001, 0x8000000000000001, 0
  TEST_RI 104, rori, 0xc000000000000000, 0x8000000000000001, 1
  TEST_RI 105, rori, 0x300000000, 0x8000000000000001, 31
  TEST_RI 106, rori, 0x3, 0x8000000000000001, 63
  TEST_RI 107, roriw, 0x1, 0x8000000000000001, 0
  TEST_RI 108, roriw, 0x8000000, 0x8000000000000001, 5
  TEST_RI 109, roriw, 0x2, 0x8000000000000001, 31
  TEST_RI 110, rori, 0xffff0000, 0xffff0000, 0
  TEST_RI 111, rori, 0x7fff8000, 0xffff0000, 1
  TEST_RI 112, rori, 0xfffe000000000001, 0xffff0000, 31
  TEST_RI 113, rori, 0x1fffe0000, 0xffff0000, 63
  TEST_RI 114, roriw, 0xffffffffffff0000, 0xffff0000, 0
  TEST_RI 115, roriw, 0x7fff800, 0xffff0000, 5
  TEST_RI 116, roriw, 0xfffffffffffe0001, 0xffff0000, 31
  TEST_RI 117, rori, 0x123456789abcdef0, 0x123456789abcdef0, 0
  TEST_RI 118, rori, 0x91a2b3c4d5e6f78, 0x123456789abcdef0, 1
  TEST_RI 119, rori, 0x3579bde02468acf1, 0x123456789abcdef0, 31
  TEST_RI 120, rori, 0x2468acf13579bde0, 0x123456789abcdef0, 63
  TEST_RI 121, roriw, 0xffffffff9abcdef0, 0x123456789abcdef0, 0
  TEST_RI 122, roriw, 0xffffffff84d5e6f7, 0x123456789abcdef0, 5
  TEST_RI 123, roriw, 0x3579bde1, 0x123456789abcdef0, 31
  TEST_RI 124, rori, 0xa5a5a5a55a5a5a5a, 0xa5a5a5a55a5a5a5a, 0
  TEST_RI 125, rori, 0x52d2d2d2ad2d2d2d, 0xa5a5a5a55a5a5a5a, 1
  TEST_RI 126, rori, 0xb4b4b4b54b4b4b4a, 0xa5a5a5a55a5a5a5a, 31
  TEST_RI 127, rori, 0x4b4b4b4ab4b4b4b5, 0xa5a5a5a55a5a5a5a, 63
  TEST_RI 128, roriw, 0x5a5a5a5a, 0xa5a5a5a55a5a5a5a, 0
  TEST_RI 129, roriw, 0xffffffffd2d2d2d2, 0xa5a5a5a55a5a5a5a, 5
  TEST_RI 130, roriw, 0xffffffffb4b4b4b4, 0xa5a5a5a55a5a5a5a, 31
  TEST_FH2_RM 1001, fadd.h, rne, 0x3c00, NX, 0x3c00, 0x1000
  TEST_FH2_RM 1005, fadd.h, rmm, 0x3c01, NX, 0x3c00, 0x1000
  TEST_FH2_RM 1009, fadd.h, rup, 0x3c01, NX, 0x3c00, 0x1200
  TEST_FH2_RM 1013, fsub.h, rdn, 0xbc01, NX, 0xbc00, 0x1200
  TEST_FH2_RM 1017, fmul.h, rtz, 0x3c2f, NX, 0x3555, 0x4248
  TEST_FH2_RM 1021, fdiv.h, rne, 0x3555, NX, 0x3c00, 0x4200
  TEST_FH2_RM 1025, fdiv.h, rmm, 0x3555, NX, 0x3c00, 0x4200
  TEST_FH2_RM 1029, fdiv.h, rup, 0xb555, NX, 0xbc00, 0x4200
  TEST_FH2_RM 1033, fmul.h, rdn, 0x7bff, OF | NX, 0x7bff, 0x4000
  TEST_FH2_RM 1037, fmul.h, rtz, 0xfbff, OF | NX, 0xfbff, 0x4000
  TEST_FH2_RM 1041, fmul.h, rne, 0x0001, UF | NX, 0x0001, 0x3a00
  TEST_FH2_RM 1045, fmul.h, rmm, 0x0001, UF | NX, 0x0001, 0x3a00
  TEST_FH2_RM 1049, fmul.h, rup, 0x0400, UF | NX, 0x0400, 0x3bff
  TEST_FH2_RM 1053, fadd.h, rdn, 0x8000, 0, 0x8001, 0x0001
  TEST_FH2_RM 1057, fsub.h, rtz, 0x0000, 0, 0x3c00, 0x3c00
  TEST_FH2_RM 1061, fmul.h, rne, 0x0400, NX, 0x0401, 0x3bfe
  TEST_FH2_RM 1065, fmul.h, rmm, 0x0400, NX, 0x0401, 0x3bfe
  TEST_FH2_RM 1069, fmul.h, rup, 0x83ff, UF | NX, 0x8401, 0x3bfe
  TEST_FH2 1073, fmul.h, 0x4600, 0, 0x4000, 0x4200
  TEST_FH2 1077, fmul.h, 0x7e00, NV, 0x7c00, 0x0000
  TEST_FH1 1081, fsqrt.h, 0x3da8, NX, 0x4000
  TEST_FH1 1085, fsqrt.h, 0x7e00, NV, 0xbc00
  TEST_FH3 1089, fnmadd.h, 0xc400, 0, 0x3e00, 0x4000, 0x3c00
  TEST_FH3 1093, fmadd.h, 0x7bff, 0, 0x7bff, 0x4000, 0xfbff
  TEST_FH_TOINT 1097, fcvt.lu.h, 0x2, NX, 0x3e00, rne
  TEST_FH_TOINT 1101, fcvt.lu.h, 0x1, NX, 0x3e00, rtz
  TEST_FH_TOINT 1105, fcvt.lu.h, 0x1, NX, 0x3e00, rdn
  TEST_FH_TOINT 1109, fcvt.lu.h, 0x2, NX, 0x3e00, rup
  TEST_FH_TOINT 1113, fcvt.lu.h, 0x2, NX, 0x3e00, rmm
  TEST_FH_TOINT 1117, fcvt.lu.h, 0x0, NV, 0xbe00, rne
  TEST_FH_TOINT 1121, fcvt.lu.h, 0x0, NV, 0xbe00, rtz
  TEST_FH_TOINT 1125, fcvt.lu.h, 0x0, NV, 0xbe00, rdn
  TEST_FH_TOINT 1129, fcvt.lu.h, 0x0, NV, 0xbe00, rup
  TEST_FH_TOINT 1133, fcvt.lu.h, 0x0, NV, 0xbe00, rmm
  TEST_FH_TOINT 1137, fcvt.lu.h, 0x2, NX, 0x4100, rne
  TEST_FH_TOINT 1141, fcvt.lu.h, 0x2, NX, 0x4100, rtz
  TEST_FH_TOINT 1145, fcvt.lu.h, 0x2, NX, 0x4100, rdn
  TEST_FH_TOINT 1149, fcvt.lu.h, 0x3, NX, 0x4100, rup
  TEST_FH_TOINT 1153, fcvt.lu.h, 0x3, NX, 0x4100, rmm
  TEST_FH_TOINT 1157, fcvt.lu.h, 0x0, NX, 0x3800, rne
  TEST_FH_TOINT 1161, fcvt.lu.h, 0x0, NX, 0x3800, rtz
  TEST_FH_TOINT 1165, fcvt.lu.h, 0x0, NX, 0x3800, rdn
  TEST_FH_TOINT 1169, fcvt.lu.h, 0x1, NX, 0x3800, rup
  TEST_FH_TOINT 1173, fcvt.lu.h, 0x1, NX, 0x3800, rmm
  TEST_FH_TOINT 1177, fcvt.lu.h, 0x0, NX, 0xb800, rne
  TEST_FH_TOINT 1181, fcvt.lu.h, 0x0, NX, 0xb800, rtz
  TEST_FH_TOINT 1185, fcvt.lu.h, 0x0, NV, 0xb800, rdn
  TEST_FH_TOINT 1189, fcvt.lu.h, 0x0, NX, 0xb800, rup
  TEST_FH_TOINT 1193, fcvt.lu.h, 0x0, NV, 0xb800, rmm
  TEST_FH_TOINT 1197, fcvt.lu.h, 0xffe0, 0, 0x7bff, rtz
  TEST_FH_TOINT 1201, fcvt.lu.h, 0x0, NV, 0xfbff, rtz
  TEST_FH_TOINT 1205, fcvt.lu.h, 0xffffffffffffffff, NV, 0x7c00, rtz
  TEST_FH_TOINT 1209, fcvt.lu.h, 0x0, NV, 0xfc00, rtz
  TEST_FH_TOINT 1213, fcvt.lu.h, 0xffffffffffffffff, NV, 0x7e00, rtz
  TEST_FH_TOINT 1217, fcvt.lu.h, 0xffffffffffffffff, NV, 0x7c01, rtz
  TEST_FH_TOINT 1221, fcvt.lu.h, 0x0, 0, 0x8000, rtz
  TEST_FH_FROMINT 1225, fcvt.h.lu, 0x0000, 0, 0x0, rne
  TEST_FH_FROMINT 1229, fcvt.h.lu, 0x0000, 0, 0x0, rtz
  TEST_FH_FROMINT 1233, fcvt.h.lu, 0x0000, 0, 0x0, rup
  TEST_FH_FROMINT 1237, fcvt.h.lu, 0x3c00, 0, 0x1, rne
  TEST_FH_FROMINT 1241, fcvt.h.lu, 0x3c00, 0, 0x1, rtz
  TEST_FH_FROMINT 1245, fcvt.h.lu, 0x3c00, 0, 0x1, rup
  TEST_FH_FROMINT 1249, fcvt.h.lu, 0x7c00, OF | NX, 0xffffffffffffffff, rne
  TEST_FH_FROMINT 1253, fcvt.h.lu, 0x7bff, OF | NX, 0xffffffffffffffff, rtz
  TEST_FH_FROMINT 1257, fcvt.h.lu, 0x7c00, OF | NX, 0xffffffffffffffff, rup
  TEST_FH_FROMINT 1261, fcvt.h.lu, 0x6800, NX, 0x801, rne
  TEST_FH_FROMINT 1265, fcvt.h.lu, 0x6800, NX, 0x801, rtz
  TEST_FH_FROMINT 1269, fcvt.h.lu, 0x6801, NX, 0x801, rup
  TEST_FH_FROMINT 1273, fcvt.h.lu, 0x6802, NX, 0x803, rne
  TEST_FH_FROMINT 1277, fcvt.h.lu, 0x6801, NX, 0x803, rtz
  TEST_FH_FROMINT 1281, fcvt.h.lu, 0x6802, NX, 0x803, rup
  TEST_FH_FROMINT 1285, fcvt.h.lu, 0x7c00, OF | NX, 0xfffffffffffff7ff, rne
  TEST_FH_FROMINT 1289, fcvt.h.lu, 0x7bff, OF | NX, 0xfffffffffffff7ff, rtz
  TEST_FH_FROMINT 1293, fcvt.h.lu, 0x7c00, OF | NX, 0xfffffffffffff7ff, rup
  TEST_FH_FROMINT 1297, fcvt.h.lu, 0x7bff, 0, 0xffe0, rne
  TEST_FH_FROMINT 1301, fcvt.h.lu, 0x7bff, 0, 0xffe0, rtz
  TEST_FH_FROMINT 1305, fcvt.h.lu, 0x7bff, 0, 0xffe0, rup
  TEST_FH_FROMINT 1309, fcvt.h.lu, 0x7bff, NX, 0xffef, rne
  TEST_FH_FROMINT 1313, fcvt.h.lu, 0x7bff, NX, 0xffef, rtz
  TEST_FH_FROMINT 1317, fcvt.h.lu, 0x7c00, OF | NX, 0xffef, rup
  TEST_FH_FROMINT 1321, fcvt.h.lu, 0x7c00, OF | NX, 0xfff0, rne
  TEST_FH_FROMINT 1325, fcvt.h.lu, 0x7bff, NX, 0xfff0, rtz
  TEST_FH_FROMINT 1329, fcvt.h.lu, 0x7c00, OF | NX, 0xfff0, rup
  TEST_FH_FROMINT 1333, fcvt.h.lu, 0x7c00, OF | NX, 0x186a0, rne
  TEST_FH_FROMINT 1337, fcvt.h.lu, 0x7bff, OF | NX, 0x186a0, rtz
  TEST_FH_FROMINT 1341, fcvt.h.lu, 0x7c00, OF | NX, 0x186a0, rup
  TEST_FH_FROMINT 1345, fcvt.h.lu, 0x7c00, OF | NX, 0x7fffffff, rne
  TEST_FH_FROMINT 1349, fcvt.h.lu, 0x7bff, OF | NX, 0x7fffffff, rtz
  TEST_FH_FROMINT 1353, fcvt.h.lu, 0x7c00, OF | NX, 0x7fffffff, rup
  TEST_FH_FROMINT 1357, fcvt.h.lu, 0x7c00, OF | NX, 0xffffffff, rne
  TEST_FH_FROMINT 1361, fcvt.h.lu, 0x7bff, OF | NX, 0xffffffff, rtz
  TEST_FH_FROMINT 1365, fcvt.h.lu, 0x7c00, OF | NX, 0xffffffff, rup
  TEST_FH_FROMINT 1369, fcvt.h.lu, 0x7c00, OF | NX, 0x8000000000000000, rne
  TEST_FH_FROMINT 1373, fcvt.h.lu, 0x7bff, OF | NX, 0x8000000000000000, rtz
  TEST_FH_FROMINT 1377, fcvt.h.lu, 0x7c00, OF | NX, 0x8000000000000000, rup
  TEST_FH_FROMINT 1381, fcvt.h.lu, 0x7c00, OF | NX, 0xffffffffffffffff, rne
  TEST_FH_FROMINT 1385, fcvt.h.lu, 0x7bff, OF | NX, 0xffffffffffffffff, rtz
  TEST_FH_FROMINT 1389, fcvt.h.lu, 0x7c00, OF | NX, 0xffffffffffffffff, rup
  TEST_FH_FROM_S 1393, rup, 0x3c00, 0, 0x3f800000
  TEST_FH_FROM_S 1397, rdn, 0x3c00, NX, 0x3f801000
  TEST_FH_FROM_S 1401, rtz, 0x3c01, 0, 0x3f802000
  TEST_FH_FROM_S 1405, rne, 0x3c02, NX, 0x3f803000
  TEST_FH_FROM_S 1409, rmm, 0x3c02, NX, 0x3f803000
  TEST_FH_FROM_S 1413, rup, 0x7bff, 0, 0x477fe000
  TEST_FH_FROM_S 1417, rdn, 0x7bff, NX, 0x477ff000
  TEST_FH_FROM_S 1421, rtz, 0x7bff, OF | NX, 0x47800000
  TEST_FH_FROM_S 1425, rne, 0x0001, 0, 0x33800000
  TEST_FH_FROM_S 1429, rmm, 0x0001, 0, 0x33800000
  TEST_FH_FROM_S 1433, rup, 0x0001, UF | NX, 0x33000000
  TEST_FH_FROM_S 1437, rdn, 0x0000, UF | NX, 0x33000001
  TEST_FH_FROM_S 1441, rtz, 0x7e00, 0, 0x7fc00000
  TEST_FH_FROM_S 1445, rne, 0x7e00, NV, 0x7f800001
  TEST_FH_FROM_S 1449, rmm, 0x7e00, NV, 0x7f800001
  TEST_FH_FROM_S 1453, rup, 0xfc00, 0, 0xff800000
  TEST_FH_FROM_S 1457, rdn, 0x8000, 0, 0x80000000
  TEST_FH_FROM_S 1461, rtz, 0x03ff, 0, 0x387fc000
  TEST_FH_FROM_S 1465, rne, 0x0400, NX, 0x387ff000
  TEST_FH_FROM_S 1469, rmm, 0x0400, NX, 0x387ff000
  TEST_FH_FROM_D 1473, rne, 0x3c00, NX, 0x3ff0020000000000
  TEST_FH_FROM_D 1477, rtz, 0x3c00, NX, 0x3ff0000000000001
  TEST_FH_FROM_D 1481, rup, 0x7bff, 0, 0x40effc0000000000
  TEST_FH_FROM_D 1485, rne, 0x0001, 0, 0x3e70000000000000
  TEST_FH_FROM_D 1489, rtz, 0x7e00, NV, 0x7ff0000000000001
  TEST_FH_FROM_D 1493, rup, 0x7e00, 0, 0xfff8000000000000
  TEST_FD_FROM_H 1497, 0x3e70000000000000, 0, 0x0001
  TEST_FD_FROM_H 1501, 0x40effc0000000000, 0, 0x7bff
  TEST_FD_FROM_H 1505, 0xfff0000000000000, 0, 0xfc00
  TEST_FD_FROM_H 1509, 0x7ff8000000000000, NV, 0x7c01
  TEST_FD_FROM_H 1513, 0x8000000000000000, 0, 0x8000
  # Still in U-mode (an ecall from U reaches M with cause 8) with Sv39 on.
  li gp, 2000
  BACK_TO_M PRV_U
  csrr a4, satp
  srli a4, a4, 60
  CHECK a4, 8
  csrr a4, mstatus
  srli a4, a4, 11
  andi a4, a4, 3
  CHECK a4, PRV_U
TEST_END
