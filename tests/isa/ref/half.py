#!/usr/bin/env python3
"""Independent reference for tests/isa/zfh.S: exact rational arithmetic (fractions.Fraction),
rounded to IEEE binary16/32/64 in each RISC-V rounding mode, with the RISC-V flag rules
(tininess after rounding, canonical NaNs, saturating float->int conversions). Prints the test
lines of zfh.S's generated part; Python's struct 'e' (round-to-nearest-even) cross-checks the
RNE results. Written for virtkit from the IEEE 754 and RISC-V F/Zfh texts."""
from fractions import Fraction as Q
import math, struct, sys

NV, DZ, OF, UF, NX = 0x10, 0x08, 0x04, 0x02, 0x01
RNE, RTZ, RDN, RUP, RMM = 0, 1, 2, 3, 4
FMT = {16: (5, 10), 32: (8, 23), 64: (11, 52)}

def decode(bits, w):
    e, m = FMT[w]
    sign = bits >> (w - 1) & 1
    ex = bits >> m & ((1 << e) - 1)
    man = bits & ((1 << m) - 1)
    if ex == (1 << e) - 1:
        if man == 0:
            return ('inf', sign)
        return ('snan' if not man >> (m - 1) else 'qnan', sign)
    bias = (1 << (e - 1)) - 1
    v = Q(man, 1 << m) * Q(2) ** (1 - bias) if ex == 0 else Q((1 << m) + man, 1 << m) * Q(2) ** (ex - bias)
    return ('num', sign, -v if sign else v)

def canon(w):
    e, m = FMT[w]
    return ((1 << e) - 1) << m | 1 << (m - 1)

def rint(x, mode):
    """Rounds a rational to an integer in mode."""
    f = math.floor(x)
    r = x - f
    if r == 0:
        return f
    if mode == RTZ:
        return f if x > 0 else f + 1
    if mode == RDN:
        return f
    if mode == RUP:
        return f + 1
    if r > Q(1, 2):
        return f + 1
    if r < Q(1, 2):
        return f
    if mode == RMM:
        return f + 1 if x > 0 else f
    return f if f % 2 == 0 else f + 1

def encode(x, w, mode, sign_of_zero=0):
    """Rounds rational x to format w: (bits, flags)."""
    e, m = FMT[w]
    bias = (1 << (e - 1)) - 1
    emin = 1 - bias
    if x == 0:
        return (sign_of_zero << (w - 1), 0)
    sign = 1 if x < 0 else 0
    a = -x if x < 0 else x
    ex = math.floor(math.log2(a))
    while Q(2) ** ex > a: ex -= 1
    while Q(2) ** (ex + 1) <= a: ex += 1
    flags = 0
    # tininess after rounding: round with unbounded exponent and see if below 2^emin
    def rnd_at(q):  # round a (signed) to multiples of 2^q
        s = x / Q(2) ** q
        return rint(s, mode) * Q(2) ** q
    unb = rnd_at(ex - m)
    tiny = abs(unb) < Q(2) ** emin
    q = max(ex, emin) - m
    r = rnd_at(q)
    if r != x:
        flags |= NX
        if tiny:
            flags |= UF
    ar = abs(r)
    maxv = (2 - Q(1, 1 << m)) * Q(2) ** bias
    if ar > maxv:
        flags |= OF | NX
        toinf = mode in (RNE, RMM) or (mode == RUP and not sign) or (mode == RDN and sign)
        if toinf:
            return (sign << (w - 1) | ((1 << e) - 1) << m, flags)
        return (sign << (w - 1) | (((1 << e) - 2) << m) | ((1 << m) - 1), flags)
    if ar == 0:
        return (sign << (w - 1), flags)
    if ar < Q(2) ** emin:
        man = int(ar / Q(2) ** (emin - m))
        return (sign << (w - 1) | man, flags)
    ex2 = math.floor(math.log2(ar))
    while Q(2) ** ex2 > ar: ex2 -= 1
    while Q(2) ** (ex2 + 1) <= ar: ex2 += 1
    man = int(ar / Q(2) ** (ex2 - m)) - (1 << m)
    return (sign << (w - 1) | (ex2 + bias) << m | man, flags)

def arith(op, w, mode, *srcs):
    d = [decode(s, w) for s in srcs]
    flags = 0
    # RISC-V: inf * 0 in a fused multiply-add is invalid even when the addend is a quiet NaN.
    if op in ('madd', 'msub', 'nmadd', 'nmsub'):
        z = lambda t: t[0] == 'num' and t[2] == 0
        if (d[0][0] == 'inf' and z(d[1])) or (z(d[0]) and d[1][0] == 'inf'):
            flags |= NV
    if any(t[0] == 'snan' for t in d):
        flags |= NV
    if any(t[0] in ('snan', 'qnan') for t in d):
        return (canon(w), flags)
    def val(t):
        return t[2] if t[0] == 'num' else (math.inf if t[1] == 0 else -math.inf)
    v = [val(t) for t in d]
    def isinf(a): return isinstance(a, float)
    if op in ('add', 'sub'):
        a, b = v
        if op == 'sub':
            b = -b
        if isinf(a) or isinf(b):
            if isinf(a) and isinf(b) and (a > 0) != (b > 0):
                return (canon(w), NV)
            s = a if isinf(a) else b
            return (encode_inf(w, s < 0), 0)
        r = a + b
        if r == 0:
            # exact zero: -0 only when both are -0 (for add) or in RDN
            sa = d[0][1]; sb = d[1][1] ^ (1 if op == 'sub' else 0)
            z = (sa & sb) if (a == 0 and b == 0) else (1 if mode == RDN else 0)
            if a == 0 and b == 0 and sa != sb:
                z = 1 if mode == RDN else 0
            return (z << (w - 1), 0)
        return encode(r, w, mode)
    if op == 'mul':
        a, b = v
        s = d[0][1] ^ d[1][1]
        if isinf(a) or isinf(b):
            if a == 0 or b == 0:
                return (canon(w), NV)
            return (encode_inf(w, s), 0)
        r = a * b
        return encode(r, w, mode, s)
    if op == 'div':
        a, b = v
        s = d[0][1] ^ d[1][1]
        if isinf(a):
            return (canon(w), NV) if isinf(b) else (encode_inf(w, s), 0)
        if isinf(b):
            return (s << (w - 1), 0)
        if b == 0:
            return (canon(w), NV) if a == 0 else (encode_inf(w, s), DZ)
        return encode(a / b, w, mode, s)
    if op == 'sqrt':
        (a,) = v
        if isinf(a):
            return (canon(w), NV) if a < 0 else (encode_inf(w, 0), 0)
        if a == 0:
            return (d[0][1] << (w - 1), 0)
        if a < 0:
            return (canon(w), NV)
        # exact sqrt to enough bits: floor(sqrt(a * 4^k)) with sticky
        k = 200
        n = a * Q(4) ** k
        ir = math.isqrt(n.numerator // n.denominator)
        exact = Q(ir * ir) == n
        r = Q(ir, 2 ** k)
        if not exact:
            r += Q(1, 2 ** (k + 1))  # sticky: strictly between, far below half an ulp
        return encode(r, w, mode)
    if op in ('madd', 'msub', 'nmadd', 'nmsub'):
        a, b, c = v
        if op in ('msub', 'nmsub'):
            c = -c
        neg = op in ('nmadd', 'nmsub')
        if (isinf(a) and b == 0) or (isinf(b) and a == 0):
            return (canon(w), NV)
        ps = d[0][1] ^ d[1][1]
        if isinf(a) or isinf(b):
            if isinf(c) and (c < 0) != bool(ps):
                return (canon(w), NV)
            return (encode_inf(w, ps ^ neg), 0)
        if isinf(c):
            return (encode_inf(w, (c < 0) ^ neg), 0)
        r = a * b + c
        if neg:
            r = -r
        if r == 0:
            return (0, 0) if mode != RDN else (1 << (w - 1), 0)
        return encode(r, w, mode)
    raise ValueError(op)

def encode_inf(w, sign):
    e, m = FMT[w]
    return int(sign) << (w - 1) | ((1 << e) - 1) << m

def f2f(bits, wfrom, wto, mode):
    t = decode(bits, wfrom)
    if t[0] in ('snan', 'qnan'):
        return (canon(wto), NV if t[0] == 'snan' else 0)
    if t[0] == 'inf':
        return (encode_inf(wto, t[1]), 0)
    return encode(t[2], wto, mode, t[1])

def f2i(bits, w, mode, ibits, signed):
    t = decode(bits, w)
    lo = -(1 << (ibits - 1)) if signed else 0
    hi = (1 << (ibits - 1)) - 1 if signed else (1 << ibits) - 1
    if t[0] in ('snan', 'qnan'):
        r, f = hi, NV
    elif t[0] == 'inf':
        r, f = (lo if t[1] else hi), NV
    else:
        n = rint(t[2], mode)
        if n < lo or n > hi:
            r, f = (lo if n < lo else hi), NV
        else:
            r, f = n, (NX if n != t[2] else 0)
    r &= (1 << ibits) - 1
    if ibits == 32:  # W results are sign-extended to 64 bits
        r = r - (1 << 32) if r >> 31 else r
    return (r & (1 << 64) - 1, f)

def i2f(v, w, mode, ibits, signed):
    v &= (1 << ibits) - 1
    if signed and v >> (ibits - 1):
        v -= 1 << ibits
    return encode(Q(v), w, mode)

def selfcheck():
    # struct 'e' (RNE) as a second, independent rounding of the arithmetic results
    for a, b in [(0x3c00, 0x1000), (0x3555, 0x4248), (0x7bff, 0x3c00), (0x0001, 0x3800)]:
        x = struct.unpack('<e', struct.pack('<H', a))[0]
        y = struct.unpack('<e', struct.pack('<H', b))[0]
        for op, py in (('add', x + y), ('mul', x * y), ('div', x / y)):
            got = arith(op, 16, RNE, a, b)[0]
            try:
                want = struct.unpack('<H', struct.pack('<e', py))[0]
            except OverflowError:
                want = 0x7c00
            assert got == want, (op, hex(a), hex(b), hex(got), hex(want))

RM = {RNE: 'rne', RTZ: 'rtz', RDN: 'rdn', RUP: 'rup', RMM: 'rmm'}
FL = lambda f: ' | '.join(n for b, n in ((NV, 'NV'), (DZ, 'DZ'), (OF, 'OF'), (UF, 'UF'), (NX, 'NX')) if f & b) or '0'

def main():
    selfcheck()
    n = [int(sys.argv[1]) if len(sys.argv) > 1 else 1]
    out = []
    def emit(s):
        out.append(s.replace('@', str(n[0])))
        n[0] += 1
    H1, H2, H3, HM1 = 0x3c00, 0x4000, 0x4200, 0xbc00
    HMAX, HMINN, HMINS, HINF, HQNAN, HSNAN = 0x7bff, 0x0400, 0x0001, 0x7c00, 0x7e00, 0x7c01
    # arithmetic, each in all five rounding modes where rounding happens
    cases2 = [('fadd.h', 'add', H1, 0x1000), ('fadd.h', 'add', H1, 0x1200), ('fsub.h', 'sub', HM1, 0x1200),
              ('fmul.h', 'mul', 0x3555, 0x4248), ('fdiv.h', 'div', H1, H3), ('fdiv.h', 'div', 0xbc00, H3),
              ('fmul.h', 'mul', HMAX, H2), ('fmul.h', 'mul', 0xfbff, H2), ('fmul.h', 'mul', HMINS, 0x3a00),
              ('fmul.h', 'mul', HMINN, 0x3bff), ('fadd.h', 'add', 0x8001, 0x0001), ('fsub.h', 'sub', H1, H1),
              # below 2^-14 exactly, but 2^-14 when rounded with an unbounded exponent: not tiny
              ('fmul.h', 'mul', 0x0401, 0x3bfe), ('fmul.h', 'mul', 0x8401, 0x3bfe)]
    for mn, op, a, b in cases2:
        for m in RM:
            r, f = arith(op, 16, m, a, b)
            emit(f'  TEST_FH2_RM @, {mn}, {RM[m]}, 0x{r:04x}, {FL(f)}, 0x{a:04x}, 0x{b:04x}')
    simple2 = [('fadd.h', 'add', 0x3e00, 0x4100), ('fsub.h', 'sub', 0x3e00, 0x4100), ('fmul.h', 'mul', H2, H3),
               ('fdiv.h', 'div', H1, 0), ('fdiv.h', 'div', 0, 0), ('fsub.h', 'sub', HINF, HINF),
               ('fmul.h', 'mul', HINF, 0), ('fadd.h', 'add', HSNAN, H1), ('fadd.h', 'add', HQNAN, H1),
               ('fdiv.h', 'div', 0x8000 | H1, HINF)]
    for mn, op, a, b in simple2:
        r, f = arith(op, 16, RNE, a, b)
        emit(f'  TEST_FH2 @, {mn}, 0x{r:04x}, {FL(f)}, 0x{a:04x}, 0x{b:04x}')
    for a in (H2, 0x4880, 0x0001, 0x8000, HM1, HINF):
        r, f = arith('sqrt', 16, RNE, a)
        emit(f'  TEST_FH1 @, fsqrt.h, 0x{r:04x}, {FL(f)}, 0x{a:04x}')
    fma = [('fmadd.h', 'madd', H3, 0x3555, 0x9400), ('fmsub.h', 'msub', 0x3e00, H2, H3), ('fnmadd.h', 'nmadd', 0x3e00, H2, H1),
           ('fnmsub.h', 'nmsub', 0x3e00, H2, H1), ('fmadd.h', 'madd', HINF, 0, HQNAN), ('fmadd.h', 'madd', 0x3c01, 0x3c01, 0xbc02),
           ('fmadd.h', 'madd', HMAX, H2, 0xfbff)]
    for mn, op, a, b, c in fma:
        r, f = arith(op, 16, RNE, a, b, c)
        emit(f'  TEST_FH3 @, {mn}, 0x{r:04x}, {FL(f)}, 0x{a:04x}, 0x{b:04x}, 0x{c:04x}')
    # half -> integer, saturation, every mode for the fractional values
    for a in (0x3e00, 0xbe00, 0x4100, 0x3800, 0xb800):
        for m in RM:
            for mn, ib, sg in (('fcvt.w.h', 32, True), ('fcvt.wu.h', 32, False), ('fcvt.l.h', 64, True), ('fcvt.lu.h', 64, False)):
                r, f = f2i(a, 16, m, ib, sg)
                emit(f'  TEST_FH_TOINT @, {mn}, 0x{r:x}, {FL(f)}, 0x{a:04x}, {RM[m]}')
    for a in (HMAX, 0xfbff, HINF, 0xfc00, HQNAN, HSNAN, 0x8000):
        for mn, ib, sg in (('fcvt.w.h', 32, True), ('fcvt.wu.h', 32, False), ('fcvt.l.h', 64, True), ('fcvt.lu.h', 64, False)):
            r, f = f2i(a, 16, RTZ, ib, sg)
            emit(f'  TEST_FH_TOINT @, {mn}, 0x{r:x}, {FL(f)}, 0x{a:04x}, rtz')
    # integer -> half
    for v in (0, 1, -1, 2049, 2051, -2049, 65504, 65519, 65520, 100000, 0x7fffffff, 0xffffffff, 0x8000000000000000, 0xffffffffffffffff):
        for m in (RNE, RTZ, RUP):
            for mn, ib, sg in (('fcvt.h.w', 32, True), ('fcvt.h.wu', 32, False), ('fcvt.h.l', 64, True), ('fcvt.h.lu', 64, False)):
                r, f = i2f(v, 16, m, ib, sg)
                emit(f'  TEST_FH_FROMINT @, {mn}, 0x{r:04x}, {FL(f)}, 0x{v & (1 << 64) - 1:x}, {RM[m]}')
    # between formats
    for s in (0x3f800000, 0x3f801000, 0x3f802000, 0x3f803000, 0x477fe000, 0x477ff000, 0x47800000, 0x33800000, 0x33000000, 0x33000001,
              0x7fc00000, 0x7f800001, 0xff800000, 0x80000000, 0x387fc000, 0x387ff000):
        for m in (RNE, RTZ, RDN, RUP, RMM):
            r, f = f2f(s, 32, 16, m)
            emit(f'  TEST_FH_FROM_S @, {RM[m]}, 0x{r:04x}, {FL(f)}, 0x{s:08x}')
    for d in (0x3ff0000000000000, 0x3ff0020000000000, 0x3ff0000000000001, 0x40effc0000000000, 0x40f0000000000000, 0x3e70000000000000,
              0x7ff0000000000001, 0xfff8000000000000):
        for m in (RNE, RTZ, RUP):
            r, f = f2f(d, 64, 16, m)
            emit(f'  TEST_FH_FROM_D @, {RM[m]}, 0x{r:04x}, {FL(f)}, 0x{d:016x}')
    for h in (H1, 0x0001, 0x83ff, HMAX, HINF, 0xfc00, HQNAN, HSNAN, 0x7d55, 0x8000):
        r, f = f2f(h, 16, 32, RNE)
        emit(f'  TEST_FS_FROM_H @, 0x{r:08x}, {FL(f)}, 0x{h:04x}')
        r, f = f2f(h, 16, 64, RNE)
        emit(f'  TEST_FD_FROM_H @, 0x{r:016x}, {FL(f)}, 0x{h:04x}')
    print('\n'.join(out))

if __name__ == '__main__':
    main()
