/**
 * `virtkit run` refuses bad input before anything starts: a one-line message and exit status 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { virtkit } from '../support/virtkit.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-cli-'));
const junk = join(dir, 'junk.bin');
writeFileSync(junk, new Uint8Array(5000).fill(0x41));
const empty = join(dir, 'empty');
writeFileSync(empty, '');
const qcow = join(dir, 'bad.qcow2');
writeFileSync(qcow, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(100, 0xff)]));

const cases: Array<[string, string[], RegExp]> = [
  ['unknown flag', ['run', '--bogus'], /unknown option '--bogus'/],
  ['missing kernel file', ['run', '--kernel', join(dir, 'nope')], /cannot read kernel .*ENOENT/],
  ['empty kernel', ['run', '--kernel', empty], /kernel .* is empty/],
  ['corrupt kernel', ['run', '--kernel', junk], /neither a RISC-V Linux Image .* nor an ELF/],
  ['missing initrd', ['run', '--kernel', junk, '--initrd', join(dir, 'nope')], /cannot read initrd/],
  ['impossible memory', ['run', '--memory', '3K'], /--memory must be/],
  ['memory junk', ['run', '--memory', 'lots'], /invalid memory size 'lots'/],
  ['too many cpus', ['run', '--cpus', '9'], /--cpus must be an integer 1..8/],
  ['missing disk', ['run', '--disk', join(dir, 'nope.img')], /--disk .*nope\.img/],
  ['bad disk option', ['run', '--disk', `${junk},cache=none`], /unknown option 'cache=none'/],
  ['corrupt qcow2 disk', ['run', '--disk', qcow], /--disk .*bad\.qcow2/],
  ['restore with extra flags', ['run', '--restore', junk, '--cpus', '2'], /--restore takes the machine from the snapshot/],
  ['corrupt snapshot', ['run', '--restore', junk], /not a virtkit snapshot/],
];

for (const [name, args, message] of cases) {
  test(`run: ${name} -> exit 2 with a clear message`, async () => {
    const r = await virtkit(args, '', 60_000);
    assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `more than one line:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, 'stack trace printed');
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
