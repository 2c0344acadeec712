#!/usr/bin/env python3
"""Independent reference for the Zbkb/Zbkc/Zbc/Zbkx/Zicond part of tests/isa/vm-user.S: each
instruction written from its definition in the RISC-V bit-manipulation and Zicond specifications
with Python integers (64-bit registers, W forms sign-extended). Prints TEST_RR/TEST_R/TEST_RI
lines numbered from argv[1]."""
import sys

M = (1 << 64) - 1

def sx32(v):
    v &= 0xffffffff
    return (v - (1 << 32)) & M if v >> 31 else v

def clmul_full(a, b):
    r = 0
    for i in range(64):
        if b >> i & 1:
            r ^= a << i
    return r

def ops():
    return {
        'andn': lambda a, b: a & ~b & M,
        'orn': lambda a, b: (a | ~b) & M,
        'xnor': lambda a, b: ~(a ^ b) & M,
        'rol': lambda a, b: ((a << (b & 63)) | (a >> (64 - (b & 63)))) & M,
        'ror': lambda a, b: ((a >> (b & 63)) | (a << (64 - (b & 63)))) & M,
        'rolw': lambda a, b: sx32(((a & 0xffffffff) << (b & 31)) | ((a & 0xffffffff) >> (32 - (b & 31)))),
        'rorw': lambda a, b: sx32(((a & 0xffffffff) >> (b & 31)) | ((a & 0xffffffff) << (32 - (b & 31)))),
        'pack': lambda a, b: (a & 0xffffffff) | (b & 0xffffffff) << 32,
        'packh': lambda a, b: (a & 0xff) | (b & 0xff) << 8,
        'packw': lambda a, b: sx32((a & 0xffff) | (b & 0xffff) << 16),
        'clmul': lambda a, b: clmul_full(a, b) & M,
        'clmulh': lambda a, b: clmul_full(a, b) >> 64,
        'clmulr': lambda a, b: clmul_full(a, b) >> 63 & M,
        'xperm4': lambda a, b: sum(((a >> (4 * (b >> (4 * i) & 15)) & 15) if (b >> (4 * i) & 15) < 16 else 0) << (4 * i) for i in range(16)),
        'xperm8': lambda a, b: sum(((a >> (8 * (b >> (8 * i) & 255)) & 255) if (b >> (8 * i) & 255) < 8 else 0) << (8 * i) for i in range(8)),
        'czero_eqz': lambda a, b: 0 if b == 0 else a,
        'czero_nez': lambda a, b: a if b == 0 else 0,
    }

def brev8(a):
    return sum(int(f'{a >> (8 * i) & 255:08b}'[::-1], 2) << (8 * i) for i in range(8))

def rev8(a):
    return int.from_bytes(a.to_bytes(8, 'little'), 'big')

VALS = [(0xfedcba9876543210, 0x0f1e2d3c4b5a6978), (0x8000000000000001, 0x41), (0x00000000ffff0000, 0xffffffff80000003),
        (0x123456789abcdef0, 0x0706050403020100), (0xa5a5a5a55a5a5a5a, 0)]

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    out = []
    for name, f in ops().items():
        for a, b in VALS:
            out.append(f'  TEST_RR {n}, {name}, 0x{f(a, b):x}, 0x{a:x}, 0x{b:x}')
            n += 1
    for a, _ in VALS:
        out.append(f'  TEST_R {n}, brev8, 0x{brev8(a):x}, 0x{a:x}')
        out.append(f'  TEST_R {n + 1}, rev8, 0x{rev8(a):x}, 0x{a:x}')
        n += 2
    for a, _ in VALS:
        for sh in (0, 1, 31, 63):
            r = ops()['ror'](a, sh)
            out.append(f'  TEST_RI {n}, rori, 0x{r:x}, 0x{a:x}, {sh}')
            n += 1
        for sh in (0, 5, 31):
            r = ops()['rorw'](a, sh)
            out.append(f'  TEST_RI {n}, roriw, 0x{r:x}, 0x{a:x}, {sh}')
            n += 1
    print('\n'.join(out))

if __name__ == '__main__':
    main()
