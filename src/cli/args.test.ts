import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance, nearest, parseArgs, parseMemorySize, parseSize } from './args.ts';
import { UsageError } from './errors.ts';

test('parseArgs handles --flag value, --flag=value, short aliases, lists and positionals', () => {
  const a = parseArgs(
    ['--kernel', 'k.elf', '--cpus=2', '-f', 'qcow2', '--disk', 'a', '--disk', 'b', 'x', '--quiet'],
    {
      kernel: 'string',
      cpus: 'string',
      format: 'string',
      disk: 'list',
      quiet: 'boolean',
    },
    { f: 'format' },
  );
  assert.deepEqual(a.flags, { kernel: 'k.elf', cpus: '2', format: 'qcow2', disk: ['a', 'b'], quiet: true });
  assert.deepEqual(a.positional, ['x']);
});

test('parseArgs rejects unknown flags and missing values', () => {
  assert.throws(() => parseArgs(['--bogus'], {}), UsageError);
  assert.throws(() => parseArgs(['--kernel'], { kernel: 'string' }), /needs a value/);
});

test('parseSize understands binary suffixes and rejects junk', () => {
  assert.equal(parseSize('512M'), 512 * 1024 * 1024);
  assert.equal(parseSize('2G'), 2 * 1024 ** 3);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('1.5K'), 1536);
  assert.throws(() => parseSize('lots'), UsageError);
});

test('an unknown flag names the nearest known one (typos, one dash before a long name)', () => {
  const spec = { memory: 'string', cpus: 'string', disk: 'list' } as const;
  assert.throws(() => parseArgs(['--memroy', '1G'], spec), /unknown option '--memroy': did you mean '--memory'\?/);
  assert.throws(() => parseArgs(['--cpu', '2'], spec), /did you mean '--cpus'\?/);
  assert.throws(() => parseArgs(['-memory', '1G'], spec), /unknown option '-memory': did you mean '--memory'\?/);
  assert.throws(() => parseArgs(['--hepl'], spec), /did you mean '--help'\?/);
  assert.throws(
    () => parseArgs(['--zzz'], spec),
    (e: Error) => e instanceof UsageError && !/did you mean/.test(e.message),
  );
  assert.equal(nearest('xy', ['memory']), undefined);
  assert.equal(editDistance('memroy', 'memory'), 1);
});

test('foreign (QEMU) flags: accepted as a flag, ignored, or refused with a hint built from the value', () => {
  const spec = { memory: 'string', disk: 'list' } as const;
  const foreign = {
    m: { as: 'memory' },
    nographic: { ignore: true as const },
    drive: { hint: (v: string | undefined) => `use --disk ${v}`, takesValue: true },
  };
  assert.deepEqual(parseArgs(['-m', '1G', '-nographic'], spec, {}, { foreign }).flags, { memory: '1G' });
  assert.throws(
    () => parseArgs(['-drive', 'x.img'], spec, {}, { foreign }),
    /'-drive' \(QEMU's spelling\): use --disk x\.img/,
  );
  // Short aliases with an attached value keep working.
  assert.deepEqual(parseArgs(['-fqcow2'], { format: 'string' }, { f: 'format' }).flags, { format: 'qcow2' });
});

test('parseMemorySize: a bare number is MiB (QEMU -m 512), suffixes as parseSize', () => {
  assert.equal(parseMemorySize('512'), 512 * 1024 * 1024);
  assert.equal(parseMemorySize('1G'), 1024 ** 3);
  assert.equal(parseMemorySize('4096K'), 4096 * 1024);
  assert.throws(() => parseMemorySize('lots'), /invalid memory size 'lots'/);
});
