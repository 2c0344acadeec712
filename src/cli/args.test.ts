import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, parseSize } from './args.ts';
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
