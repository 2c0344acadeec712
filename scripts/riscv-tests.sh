#!/usr/bin/env bash
# Builds the official riscv-tests ISA suites from YOUR OWN checkout and runs each test on virtkit
# (`virtkit run --firmware none --kernel`). This script never downloads anything.
#
# usage: scripts/riscv-tests.sh RISCV_TESTS_DIR [OUT_DIR]
#   RISCV_TESTS_DIR  a riscv-tests checkout whose env/ submodule is populated
#                    (git clone --recursive https://github.com/riscv-software-src/riscv-tests)
#   OUT_DIR          where the ELFs and results go (default: /tmp/virtkit-riscv-tests)
# environment:
#   SUITES    suites to build (default: rv64ui rv64um rv64ua rv64uf rv64ud rv64uc rv64mi rv64si
#             rv64uzba rv64uzbb rv64uzbs rv64uzbc rv64uzbkb rv64uzbkx rv64uzicond rv64uzfh
#             rv64mzicbo rv64ssvnapot)
#   VARIANTS  env variants (default: "p v"; v = virtual memory, only built for the user-level suites)
#   FILTER    run only tests whose name contains this string
#   TIMEOUT   per-test --timeout in seconds (default 60)
#   CROSS     compiler prefix (default riscv64-linux-gnu-)
#   BUILD_ONLY=1  build the ELFs and stop
# Exit status: 0 if every test passed, 1 otherwise. Results: OUT_DIR/results.txt.
set -u

src=${1:?usage: scripts/riscv-tests.sh RISCV_TESTS_DIR [OUT_DIR]}
out=${2:-/tmp/virtkit-riscv-tests}
cross=${CROSS:-riscv64-linux-gnu-}
suites=${SUITES:-rv64ui rv64um rv64ua rv64uf rv64ud rv64uc rv64mi rv64si rv64uzba rv64uzbb rv64uzbs rv64uzbc rv64uzbkb rv64uzbkx rv64uzicond rv64uzfh rv64mzicbo rv64ssvnapot}
variants=${VARIANTS:-p v}
timeout=${TIMEOUT:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
virtkit="$root/bin/virtkit"

if ! command -v "${cross}gcc" >/dev/null; then
  echo "riscv-tests.sh: ${cross}gcc not found (install gcc-riscv64-linux-gnu)" >&2
  exit 2
fi
if [ ! -f "$src/isa/macros/scalar/test_macros.h" ] || [ ! -f "$src/env/p/riscv_test.h" ]; then
  echo "riscv-tests.sh: $src is not a riscv-tests checkout with env/ populated" \
    "(git submodule update --init)" >&2
  exit 2
fi
mkdir -p "$out"

# The -march each suite's Makefrag uses (the assembler must accept the instructions under test).
march_for() {
  case $1 in
    rv64uzba) echo rv64g_zba ;;
    rv64uzbb) echo rv64g_zbb ;;
    rv64uzbs) echo rv64g_zbs ;;
    rv64uzbc) echo rv64g_zbc ;;
    rv64uzbkb) echo rv64g_zbkb ;;
    rv64uzbkx) echo rv64g_zbkx ;;
    rv64uzfh) echo rv64g_zfh ;;
    rv64mzicbo) echo rv64g_zicboz ;;
    rv64uzicond) zicond_march ;;
    *) echo rv64g ;;
  esac
}

# Zicond: binutils before 2.41 do not know czero.eqz/czero.nez; give them as macros (.insn) then.
zicond_inc="$out/zicond-insn.S"
zicond_march() {
  if echo 'czero.eqz a0, a1, a2' | "${cross}as" -march=rv64g_zicond -o /dev/null - 2>/dev/null; then
    echo rv64g_zicond
  else
    printf '.macro czero.eqz rd, rs1, rs2\n.insn r 0x33, 5, 7, \\rd, \\rs1, \\rs2\n.endm\n' >"$zicond_inc"
    printf '.macro czero.nez rd, rs1, rs2\n.insn r 0x33, 7, 7, \\rd, \\rs1, \\rs2\n.endm\n' >>"$zicond_inc"
    echo rv64g
  fi
}

# Test names come from each suite's Makefrag variable <suite>_sc_tests.
tests_of() {
  sed -n "/^$1_sc_tests *=/,/^\$/p" "$src/isa/$1/Makefrag" | sed '1s/^[^=]*=//' | tr -d '\\' | tr -s ' \t\n' '\n' |
    grep -v '^$'
}

# -fno-pie -no-pie: the linux-gnu cross compiler defaults to PIE, which turns `la` into GOT loads.
opts="-static -mcmodel=medany -fvisibility=hidden -nostdlib -nostartfiles -fno-pie -no-pie"
built=()
for suite in $suites; do
  march=$(march_for "$suite")
  wrap=
  [ "$suite" = rv64uzicond ] && [ "$march" = rv64g ] && wrap=1
  for t in $(tests_of "$suite"); do
    for v in $variants; do
      # The v (virtual-memory) environment only makes sense for user-level tests.
      case $suite in rv64u*) ;; *) [ "$v" = p ] || continue ;; esac
      name="$suite-$v-$t"
      [ -n "${FILTER:-}" ] && [[ $name != *"$FILTER"* ]] && continue
      elf="$out/$name"
      tsrc="$src/isa/$suite/$t.S"
      if [ -n "$wrap" ]; then
        # The test with the czero macros in front (a wrapper, so the env's C files are untouched).
        tsrc="$out/$t.zicond.S"
        printf '#include "%s"\n#include "%s"\n' "$zicond_inc" "$src/isa/$suite/$t.S" >"$tsrc"
      fi
      if [ ! -f "$elf" ] || [ "$src/isa/$suite/$t.S" -nt "$elf" ]; then
        if [ "$v" = p ]; then
          "${cross}gcc" -march="$march" -mabi=lp64d $opts -I"$src/env/p" -I"$src/isa/macros/scalar" \
            -T"$src/env/p/link.ld" "$tsrc" -o "$elf" 2>"$elf.build.log" || {
            echo "BUILD-FAIL $name (see $elf.build.log)"
            continue
          }
        else
          entropy=$(echo "$name" | md5sum | cut -c 1-7)
          "${cross}gcc" -march="$march" -mabi=lp64d $opts -DENTROPY=0x"$entropy" -std=gnu99 -O2 \
            -I"$src/env/v" -I"$src/isa/macros/scalar" -T"$src/env/v/link.ld" "$src/env/v/entry.S" \
            "$src/env/v/"*.c "$tsrc" -o "$elf" 2>"$elf.build.log" || {
            echo "BUILD-FAIL $name (see $elf.build.log)"
            continue
          }
        fi
      fi
      built+=("$name")
    done
  done
done

if [ -n "${BUILD_ONLY:-}" ]; then
  echo "riscv-tests: built ${#built[@]} tests in $out"
  exit 0
fi

pass=0
fail=0
: >"$out/results.txt"
for name in "${built[@]}"; do
  msg=$("$virtkit" run --firmware none --kernel "$out/$name" --timeout "$timeout" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1))
    echo "PASS $name" >>"$out/results.txt"
  else
    fail=$((fail + 1))
    line="FAIL $name exit=$rc $(echo "$msg" | tail -n 1)"
    echo "$line" >>"$out/results.txt"
    echo "$line"
  fi
done
echo "riscv-tests: $pass passed, $fail failed, $((pass + fail)) run (results in $out/results.txt)"
[ $fail -eq 0 ]
