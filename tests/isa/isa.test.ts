/**
 * The ISA test driver: assembles every tests/isa/*.S with the Debian RISC-V cross binutils into a
 * temporary directory, runs each on the bare-metal board (src/machine/baremetal.ts) and expects a
 * pass; then checks the runner's conventions and `virtkit run`'s exit statuses end to end.
 * Requires binutils-riscv64-linux-gnu (riscv64-linux-gnu-as / -ld): missing tools fail the suite.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BareMetalMachine } from '../../src/machine/baremetal.ts';
import type { CpuModel } from '../../src/riscv/cpu-config.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const include = join(here, 'include');
const AS = 'riscv64-linux-gnu-as';
const LD = 'riscv64-linux-gnu-ld';
const MARCH = 'rv64gc_zba_zbb_zbs_zbc_zbkb_zbkc_zbkx_zfh_zicbom_zicboz_zicbop_svinval';
/** Generous: the longest test retires well under a million instructions. */
const MAX_INSTRUCTIONS = 20_000_000;

let work = '';

function toolsPresent(): boolean {
  const r = spawnSync(AS, ['--version'], { encoding: 'utf8' });
  const l = spawnSync(LD, ['--version'], { encoding: 'utf8' });
  return r.status === 0 && l.status === 0;
}

/** Assembles and links one source (a path, or inline text) into an ELF; returns its path. */
function build(name: string, source: { file?: string; text?: string }): string {
  let src = source.file;
  if (source.text !== undefined) {
    src = join(work, `${name}.S`);
    writeFileSync(src, source.text);
  }
  const obj = join(work, `${name}.o`);
  const elf = join(work, `${name}.elf`);
  const a = spawnSync(AS, [`-march=${MARCH}`, '-I', include, '-o', obj, src!], { encoding: 'utf8' });
  assert.equal(a.status, 0, `assembling ${name} failed:\n${a.stderr}`);
  const l = spawnSync(LD, ['-T', join(include, 'link.ld'), '--no-warn-rwx-segments', '-o', elf, obj], {
    encoding: 'utf8',
  });
  assert.equal(l.status, 0, `linking ${name} failed:\n${l.stderr}`);
  return elf;
}

/** Runs an ELF on the bare-metal board; `translated`: everything through that translation tier. */
function runElf(elf: string, o: { translated?: 'js' | 'wasm'; cpu?: CpuModel } = {}) {
  let out = '';
  const m = new BareMetalMachine({ memory: 16 << 20, console: (b) => (out += String.fromCharCode(b)), cpu: o.cpu });
  if (o.translated) {
    m.hart.tier = o.translated;
    m.hart.jitThreshold = 0;
  }
  m.load(new Uint8Array(readFileSync(elf)));
  const result = m.run({ maxInstructions: MAX_INSTRUCTIONS });
  const hex = (i: number) =>
    '0x' + BigInt.asUintN(64, (BigInt(m.hart.readRegHi(i)) << 32n) | BigInt(m.hart.readRegLo(i) >>> 0)).toString(16);
  // The framework's registers: gp = test number, s6 = trap mode, s7..s9 = cause, epc, tval.
  const detail = `test ${m.hart.readReg(3)}; last trap: mode ${m.hart.readReg(22)} cause ${hex(23)} epc ${hex(24)} tval ${hex(25)}; pc ${m.hart.getPc().toString(16)}`;
  return { result, out, detail };
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [join(root, 'bin', 'virtkit'), ...args], { encoding: 'utf8', timeout: 60_000 });
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'virtkit-isa-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the RISC-V cross binutils are installed', () => {
  assert.ok(
    toolsPresent(),
    `${AS} / ${LD} not found: install binutils-riscv64-linux-gnu (apt-get install binutils-riscv64-linux-gnu)`,
  );
});

const sources = readdirSync(here)
  .filter((f) => f.endsWith('.S'))
  .sort();

test('there are ISA tests to run', () => {
  assert.ok(sources.length >= 10, `only ${sources.length} .S files in tests/isa`);
});

// Each test runs on the interpreter (the reference) and again with every block translated
// (jitThreshold 0) by the JS tier and by the wasm tier, so every instruction is checked in each.
for (const file of sources) {
  const name = file.slice(0, -2);
  test(`isa: ${name}`, { skip: false }, () => {
    assert.ok(toolsPresent(), `install binutils-riscv64-linux-gnu to run the ISA tests`);
    const elf = build(name, { file: join(here, file) });
    for (const translated of [undefined, 'js', 'wasm'] as const) {
      const { result, detail } = runElf(elf, { translated });
      assert.deepEqual(
        result.kind,
        'pass',
        `${name}${translated ? ` (translated: ${translated})` : ''}: ${JSON.stringify(result, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))} (${detail})`,
      );
    }
  });
}

const prelude = '.include "vk.S"\nTEST_BEGIN\n';

test('runner: a failing test reports its number (the finisher is seen first)', () => {
  const elf = build('fail7', { text: prelude + '  li gp, 7\n  FAIL\nTEST_END\n' });
  const { result } = runElf(elf);
  assert.deepEqual(result, { kind: 'fail', code: 7, via: 'finisher' });
});

// tohost-only programs (riscv-tests style, no finisher), an HTIF console write, a syscall request.
const tohostOnly = (body: string) =>
  `  .section .text.init, "ax"\n  .globl _start\n_start:\n  la t1, tohost\n${body}\n1: j 1b\n` +
  `  .section .tohost, "aw"\n  .balign 64\n  .globl tohost\ntohost: .dword 0\n  .globl fromhost\nfromhost: .dword 0\n`;

test('runner: tohost exit codes, HTIF console output and unsupported requests', () => {
  const pass = build('tohost-pass', { text: tohostOnly('  li t0, 1\n  sd t0, 0(t1)') });
  assert.deepEqual(runElf(pass).result, { kind: 'pass', via: 'tohost' });
  const fail = build('tohost-fail', { text: tohostOnly('  li t0, (42 << 1) | 1\n  sd t0, 0(t1)') });
  assert.deepEqual(runElf(fail).result, { kind: 'fail', code: 42, via: 'tohost' });
  const putc =
    '  li t0, 0x0101000000000000 | 0x48\n  sd t0, 0(t1)\n2: ld t0, 0(t1)\n  bnez t0, 2b\n' +
    '  li t0, 0x0101000000000000 | 0x69\n  sd t0, 0(t1)\n3: ld t0, 0(t1)\n  bnez t0, 3b\n  li t0, 1\n  sd t0, 0(t1)';
  const r = runElf(build('tohost-putc', { text: tohostOnly(putc) }));
  assert.deepEqual(r.result, { kind: 'pass', via: 'tohost' });
  assert.equal(r.out, 'Hi');
  const sys = runElf(build('tohost-syscall', { text: tohostOnly('  li t0, 0x80001000\n  sd t0, 0(t1)') }));
  assert.deepEqual(sys.result, { kind: 'htif-error', value: 0x80001000n });
});

test('runner: the UART prints to the console; WFI with no wake-up source ends as idle', () => {
  const uart = build('uart', {
    text: tohostOnly(
      '  li t2, 0x10000000\n  li t0, 0x4f\n  sb t0, 0(t2)\n  li t0, 0x4b\n  sb t0, 0(t2)\n  li t0, 1\n  sd t0, 0(t1)',
    ),
  });
  const r = runElf(uart);
  assert.deepEqual(r.result, { kind: 'pass', via: 'tohost' });
  assert.equal(r.out, 'OK');
  const idle = runElf(build('idle', { text: tohostOnly('  csrwi mie, 0\n  wfi\n  wfi\n  j _start') }));
  assert.equal(idle.result.kind, 'idle');
});

test('virtkit run: exit statuses for pass, failure, limits and bad input', () => {
  const pass = build('cli-pass', { file: join(here, 'rv64i-alu.S') });
  assert.equal(cli(['run', '--firmware', 'none', '--kernel', pass]).status, 0);
  const fail = build('cli-fail', { text: prelude + '  li gp, 9\n  FAIL\nTEST_END\n' });
  const f = cli(['run', '--firmware', 'none', '--kernel', fail]);
  assert.equal(f.status, 9);
  assert.match(f.stderr, /failure, code 9/);
  const spin = build('cli-spin', { text: tohostOnly('') });
  const lim = cli(['run', '--firmware', 'none', '--kernel', spin, '--max-instructions', '1000']);
  assert.equal(lim.status, 124);
  assert.match(lim.stderr, /instruction limit/);
  const bad = cli(['run', '--firmware', 'none', '--kernel', join(here, 'isa.test.ts')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /not an ELF file/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(cli(['run', '--firmware', 'none']).status, 2);
  assert.equal(cli(['run', '--firmware', 'none', '--kernel', pass, '--memory', 'lots']).status, 2);
});
