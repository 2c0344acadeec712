/**
 * The Debian kernel sees the CPU model virtkit advertises: /proc/cpuinfo's isa line names every
 * extension of the model's device-tree ISA string and nothing else (besides Zca/Zcd, which the
 * kernel derives from C and D; Zicbop, which 6.12 does not know, is advertised but not listed),
 * and its mmu line the model's paging mode. The default model
 * (max) boots with the built-in SBI, and under Debian's OpenSBI with two harts (PMP enforced:
 * the firmware protects itself from S-mode); --cpu rv64gc gives the old hart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ensureGuest, virtkit } from '../support/virtkit.ts';
import { cpuConfig, type CpuModel } from '../../src/riscv/cpu-config.ts';
import { parseIsa } from '../../src/machine/fdt.ts';

const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
const SCRIPT = ['grep -E "^(isa|mmu)" /proc/cpuinfo | sed "s/^/@@ /"', 'poweroff -f', ''].join('\n');

/** Single-letter extensions are the base string's letters; the rest are the _-separated names. */
function extensionsOf(isa: string): Set<string> {
  const { extensions } = parseIsa(isa);
  return new Set(extensions.filter((e) => e.length > 1));
}

function check(stdout: string, model: CpuModel, harts: number): void {
  const cfg = cpuConfig(model);
  const isaLines = [...stdout.matchAll(/^@@ isa\s*:\s*(\S+)/gm)].map((m) => m[1]!);
  const mmuLines = [...stdout.matchAll(/^@@ mmu\s*:\s*(\S+)/gm)].map((m) => m[1]!);
  assert.equal(isaLines.length, harts, `one isa line per hart:\n${stdout.slice(-2000)}`);
  const want = extensionsOf(cfg.isa);
  want.add('zca'); // derived by the kernel from C (and D)
  want.add('zcd');
  // Linux 6.12 does not know Zicbop yet (it parses riscv,cbop-block-size only in later kernels).
  want.delete('zicbop');
  for (const line of isaLines) {
    assert.match(line, /^rv64imafdc_/);
    const got = extensionsOf(line);
    assert.deepEqual([...got].sort(), [...want].sort(), `${model}: the kernel's isa line ${line}`);
  }
  for (const m of mmuLines) assert.equal(m, cfg.mmuType.replace('riscv,', ''));
}

test(
  'default guest (cpu max): /proc/cpuinfo names exactly the advertised extensions, mmu sv57',
  { timeout: 900_000 },
  async () => {
    ensureGuest();
    const r = await virtkit(['run', '--memory', '256M'], SCRIPT);
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
    check(r.stdout, 'max', 1);
    for (const e of ['zicboz', 'zicbom', 'svpbmt', 'svnapot', 'zfh', 'zicond'])
      assert.match(r.stdout, new RegExp(`_${e}[_\\s]`));
  },
);

test('--cpu rv64gc: the old hart (no RVA22 extensions), mmu sv48', { timeout: 900_000 }, async () => {
  ensureGuest();
  const r = await virtkit(['run', '--cpu', 'rv64gc', '--memory', '256M'], SCRIPT);
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  check(r.stdout, 'rv64gc', 1);
});

test('--cpu rva22 under OpenSBI fw_jump with --cpus 2 (PMP enforced)', { timeout: 900_000 }, async () => {
  ensureGuest();
  assert.ok(existsSync(OPENSBI), `${OPENSBI} is missing: apt-get install opensbi`);
  const { loadGuest } = await import('../../src/host/node/guest/debian-guest.ts');
  const g = (await loadGuest())!;
  const r = await virtkit(
    [
      'run',
      '--cpu',
      'rva22',
      '--firmware',
      OPENSBI,
      '--kernel',
      g.kernel,
      '--initrd',
      g.initrd,
      '--cpus',
      '2',
      '--memory',
      '256M',
    ],
    SCRIPT,
  );
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  assert.match(r.stdout, /Domain0 Region01\s*: 0x0000000080000000-0x000000008007ffff \(\)/, 'OpenSBI protects itself');
  check(r.stdout, 'rva22', 2);
});

test('--cpu with an unknown model is a usage error naming the models', async () => {
  const r = await virtkit(['run', '--cpu', 'rv64'], '', 60_000);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown CPU model 'rv64' \(expected rv64gc, rva22, max\)/);
  const q = await virtkit(['run', '-cpu', 'sifive-u54'], '', 60_000);
  assert.equal(q.code, 2);
  assert.match(q.stderr, /unknown CPU model 'sifive-u54'/);
});
