/**
 * The ISA tests on the reference: every tests/isa/*.S also runs on `qemu-system-riscv64 -M virt
 * -bios none`, which must agree with the specification wherever virtkit is checked against it.
 *
 * Each file is assembled twice with --defsym VK_UART_REPORT=1 (the framework then prints
 * "VK PASS" / "VK FAIL <n>" on the UART: QEMU's exit status keeps only 8 bits of the test number):
 *  - as is: the run must pass, or stop at a test inside one of the file's `.ifndef QEMU` blocks
 *    (checks on which QEMU departs from the specification, or that need an extension QEMU lacks,
 *    each with its reason in the source);
 *  - with --defsym QEMU=1, which leaves those blocks out: that run must pass.
 * Files whose extensions the installed QEMU does not have are not comparable; for those the test
 * asserts the documented reason instead (QEMU traps the file's first use of the extension), and
 * runs the comparison as soon as a QEMU with the extension is installed. docs/isa-tests.md lists
 * the departures and the files QEMU cannot run. Needs qemu-system-misc (fails without it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const include = join(here, 'include');
const QEMU = 'qemu-system-riscv64';
const MARCH = 'rv64gc_zba_zbb_zbs_zbc_zbkb_zbkc_zbkx_zfh_zicbom_zicboz_zicbop_svinval';

interface Case {
  /** Extensions (QEMU -cpu properties, lower case) the file needs. */
  needs: string[];
  /** Extensions enabled when QEMU has them; their tests are in `.ifndef QEMU` blocks. */
  optional?: string[];
  /** When QEMU lacks a needed extension: the test at which QEMU must stop (its first use). */
  firstUse?: number;
  args?: string[];
}

const ZB = ['zba', 'zbb', 'zbs'];
const CASES: Record<string, Case> = {
  'rv64i-alu': { needs: [] },
  'rv64i-branch': { needs: [] },
  'rv64i-mem': { needs: [] },
  rv64m: { needs: [] },
  rv64a: { needs: [] },
  rv64c: { needs: [] },
  f: { needs: [] },
  d: { needs: [] },
  zicsr: { needs: [] },
  // Exact instruction counts need QEMU's -icount.
  zicntr: { needs: [], args: ['-icount', 'shift=0'] },
  'priv-traps': { needs: [] },
  // Timer interrupts: with -icount QEMU's mtime follows the instruction count, so a loaded host
  // cannot delay the interrupt past the test's wait loop.
  'priv-irq': { needs: [], args: ['-icount', 'shift=0'] },
  'vm-sv39': { needs: [] },
  'vm-sv48': { needs: [] },
  zb: { needs: ZB },
  'zbk-zbc-zicond': { needs: ['zbc', 'zbkb', 'zbkc', 'zbkx'], optional: ['zicond'] },
  zfh: { needs: ['zfh'] },
  pmp: { needs: [] },
  svnapot: { needs: ['svnapot', 'svpbmt', 'svinval'] },
  'vm-sv57': { needs: [] },
  'vm-user': { needs: ['zfh', 'zbc', 'zbkb', 'zbkc', 'zbkx', ...ZB], optional: ['zicond'] },
  zicbo: { needs: ['zicbom', 'zicboz'], firstUse: 1 },
};

let work = '';
before(() => {
  work = mkdtempSync(join(tmpdir(), 'virtkit-isa-qemu-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function installed(): string | undefined {
  for (const tool of [QEMU, 'riscv64-linux-gnu-as', 'riscv64-linux-gnu-ld']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return tool;
  }
  return undefined;
}

/** How this QEMU spells an extension's -cpu property (7.2 has `Zfh`, later ones `zfh`), or null. */
const spellings = new Map<string, string | null>();
function property(ext: string): string | null {
  if (!spellings.has(ext)) {
    let found: string | null = null;
    for (const p of [ext, ext[0]!.toUpperCase() + ext.slice(1)]) {
      // An unknown property fails before the (missing) kernel is looked at.
      const r = spawnSync(
        QEMU,
        ['-M', 'virt', '-display', 'none', '-cpu', `rv64,${p}=true`, '-kernel', '/nonexistent'],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      if (!/not found|can't apply|unsupported/i.test(r.stderr)) {
        found = p;
        break;
      }
    }
    spellings.set(ext, found);
  }
  return spellings.get(ext)!;
}

function build(name: string, defs: string[]): string {
  const obj = join(work, `${name}.o`);
  const elf = join(work, `${name}.elf`);
  const syms = defs.flatMap((d) => ['--defsym', `${d}=1`]);
  const a = spawnSync(
    'riscv64-linux-gnu-as',
    [`-march=${MARCH}`, ...syms, '-I', include, '-o', obj, join(here, `${name.split('@')[0]}.S`)],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(a.status, 0, `assembling ${name} failed:\n${a.stderr}`);
  const l = spawnSync(
    'riscv64-linux-gnu-ld',
    ['-T', join(include, 'link.ld'), '--no-warn-rwx-segments', '-o', elf, obj],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(l.status, 0, `linking ${name} failed:\n${l.stderr}`);
  return elf;
}

/** Runs an ELF on QEMU; returns 0 for a pass, else the failing test number. */
function runQemu(elf: string, cpu: string, args: string[]): number {
  const r = spawnSync(
    QEMU,
    [
      '-M',
      'virt',
      '-bios',
      'none',
      '-display',
      'none',
      '-serial',
      'stdio',
      '-monitor',
      'none',
      '-cpu',
      cpu,
      ...args,
      '-kernel',
      elf,
    ],
    { encoding: 'utf8', input: '', timeout: 60_000 },
  );
  if (/VK PASS/.test(r.stdout)) return 0;
  const m = /VK FAIL ([0-9a-f]{16})/.exec(r.stdout);
  assert.ok(m, `no result from QEMU (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  return Number.parseInt(m[1]!, 16);
}

/**
 * Test numbers with checks inside `.ifndef QEMU` blocks: those the block sets (TEST_x n, ... or
 * li gp, n), and the test under way when a block starts with checks of it.
 */
function leftOut(name: string): number[] {
  const out = new Set<number>();
  let inside = false;
  let current = 0;
  let first = false;
  for (const line of readFileSync(join(here, `${name}.S`), 'utf8').split('\n')) {
    const code = line.replace(/#.*/, '').trim();
    if (/^\.ifndef\s+QEMU\b/.test(code)) {
      inside = true;
      first = true;
      continue;
    }
    if (/^\.(endif|else)\b/.test(code)) {
      inside = false;
      continue;
    }
    const m = /^(?:li\s+gp,\s*(\d+)|TEST_\w+\s+(\d+)\s*,)/.exec(code);
    if (m) current = Number(m[1] ?? m[2]);
    if (inside && code !== '' && (m || first)) out.add(current);
    if (code !== '') first = false;
  }
  return [...out].sort((x, y) => x - y);
}

test('qemu-system-riscv64 and the cross binutils are installed', () => {
  const missing = installed();
  assert.equal(missing, undefined, `${missing} not found: install qemu-system-misc and binutils-riscv64-linux-gnu`);
});

test('every ISA test file has a QEMU comparison entry', () => {
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.S'))
    .map((f) => f.slice(0, -2))
    .sort();
  assert.deepEqual(files, Object.keys(CASES).sort());
});

for (const [name, c] of Object.entries(CASES)) {
  test(`qemu: ${name}`, () => {
    assert.equal(installed(), undefined, 'install qemu-system-misc and binutils-riscv64-linux-gnu');
    const lacking = c.needs.filter((e) => property(e) === null);
    const props = [...c.needs, ...(c.optional ?? [])].map(property).filter((p): p is string => p !== null);
    const cpu = ['rv64', ...props.map((p) => `${p}=true`)].join(',');
    const args = c.args ?? [];
    const full = runQemu(build(name, ['VK_UART_REPORT']), lacking.length ? 'rv64' : cpu, args);
    if (lacking.length > 0) {
      // Not comparable on this QEMU: the reason must be the one documented.
      assert.ok(c.firstUse !== undefined, `${QEMU} has no ${lacking.join(', ')}: ${name} cannot be compared`);
      assert.equal(full, c.firstUse, `${name}: QEMU (without ${lacking.join(', ')}) should stop at the first use`);
      return;
    }
    const allowed = leftOut(name);
    assert.ok(
      full === 0 || allowed.includes(full),
      `${name} fails on QEMU at test ${full}, which is not a known departure (${allowed.join(', ') || 'none'})`,
    );
    if (allowed.length > 0) {
      assert.equal(runQemu(build(`${name}@qemu`, ['VK_UART_REPORT', 'QEMU']), cpu, args), 0, `${name} (QEMU build)`);
    }
  });
}
