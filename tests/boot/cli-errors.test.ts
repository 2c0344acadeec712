/**
 * `virtkit run` refuses bad input before anything starts: a one-line message and exit status 2;
 * a busy host resource (a forwarded port, a locked image) is a runtime condition: exit status 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { openImageFile } from '../../src/host/node/open-image.ts';
import { virtkit } from '../support/virtkit.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-cli-'));
const junk = join(dir, 'junk.bin');
// An ELF in name only (a file of any other kind is loaded raw, as QEMU's -kernel loads it).
writeFileSync(junk, '\x7fELF' + 'A'.repeat(4996));
const bigRaw = join(dir, 'big.bin');
writeFileSync(bigRaw, new Uint8Array(15 * 1024 * 1024).fill(0x13));
const empty = join(dir, 'empty');
writeFileSync(empty, '');
const qcow = join(dir, 'bad.qcow2');
writeFileSync(qcow, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(100, 0xff)]));

const cases: Array<[string, string[], RegExp]> = [
  ['unknown flag', ['run', '--bogus'], /unknown option '--bogus'/],
  ['missing kernel file', ['run', '--kernel', join(dir, 'nope')], /cannot read kernel .*: no such file or directory$/m],
  ['empty kernel', ['run', '--kernel', empty], /kernel .* is empty/],
  ['corrupt kernel', ['run', '--kernel', junk], /kernel ELF: unknown ELF class 65/],
  ['raw kernel bigger than RAM', ['run', '--memory', '16M', '--kernel', bigRaw], /kernel \(a raw binary: neither a RISC-V Linux Image nor ELF\) needs 17 MiB of RAM, the machine has 16 MiB/],
  ['missing initrd', ['run', '--kernel', junk, '--initrd', join(dir, 'nope')], /cannot read initrd/],
  ['impossible memory', ['run', '--memory', '3K'], /--memory must be/],
  ['memory junk', ['run', '--memory', 'lots'], /invalid memory size 'lots'/],
  ['too many cpus', ['run', '--cpus', '9'], /--cpus must be an integer 1..8/],
  ['missing disk', ['run', '--disk', join(dir, 'nope.img')], /--disk: .*nope\.img: no such file$/m],
  ['bad disk option', ['run', '--disk', `${junk},cache=none`], /unknown option 'cache=none'/],
  ['corrupt qcow2 disk', ['run', '--disk', qcow], /--disk: .*bad\.qcow2: qcow2 version/],
  ['restore with extra flags', ['run', '--restore', junk, '--cpus', '2'], /--restore takes the machine from the snapshot: drop .*--cpus/],
  ['corrupt snapshot', ['run', '--restore', junk], /not a virtkit snapshot/],
  ['typo in a flag', ['run', '--memroy', '1G'], /unknown option '--memroy': did you mean '--memory'\?/],
  ['QEMU -drive', ['run', '-drive', 'file=d.qcow2,if=virtio'], /'-drive' \(QEMU's spelling\): did you mean '--disk d\.qcow2'\?/],
  ['QEMU -netdev', ['run', '-netdev', 'user,id=n0'], /did you mean '--net user'\?/],
  ['QEMU -cpu with a model virtkit lacks', ['run', '-cpu', 'rv64'], /unknown CPU model 'rv64' \(expected rv64gc, rva22, max\)/],
  ['QEMU -m, -smp accepted, -nographic ignored', ['run', '-nographic', '-m', '1G', '-smp', '9'], /--cpus must be an integer 1\.\.8, not '9'/],
  ['--disk file= names the file once', ['run', '--disk', `file=${join(dir, 'nope.img')}`], /^virtkit run: --disk: [^:]*nope\.img: no such file$/m],
  ['hostfwd without a host address field', ['run', '--net', 'user,hostfwd=tcp:8080-:0'], /bad guest port '0' \(expected a port number 1\.\.65535\)/],
  ['bad hostfwd', ['run', '--net', 'user,hostfwd=8080:80'], /expected \[tcp\|udp\]:\[HOSTADDR\]:HOSTPORT-\[GUESTADDR\]:GUESTPORT/],
  ['bare memory number is MiB', ['run', '--memory', '8'], /--memory must be a whole number of MiB between 16M and 4G, not '8'/],
  ['--profile-symbols without --profile', ['run', '--profile-symbols', junk], /--profile-symbols needs --profile FILE/],
  ['profile into a missing directory', ['run', '--profile', join(dir, 'no', 'p.txt')], /--profile .*no.*/],
  ['symbols file with no text symbols', ['run', '--profile', join(dir, 'p.txt'), '--profile-symbols', junk], /--profile-symbols .*junk\.bin: no text symbols found/],
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

test('run: a bare --memory number is MiB (QEMU -m 512), so 64 boots as far as the kernel', async () => {
  const r = await virtkit(['run', '--memory', '64', '--kernel', junk], '', 60_000);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /kernel ELF: unknown ELF class 65/);
});

test('run: a hostfwd port in use is exit 1 (a runtime condition, as in web), in words', async () => {
  const blocker = createServer();
  await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
  const port = (blocker.address() as AddressInfo).port;
  try {
    const r = await virtkit(['run', '--kernel', junk, '--net', `user,hostfwd=tcp::${port}-:80`], '', 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /port already in use/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  } finally {
    blocker.close();
  }
});

test('web: a port in use is exit 1, said in words', async () => {
  const blocker = createServer();
  await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
  const port = (blocker.address() as AddressInfo).port;
  try {
    const r = await virtkit(['web', '--no-build', '--kernel', junk, '--initrd', junk, '--port', String(port)], '', 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot listen on port \d+: address already in use/);
  } finally {
    blocker.close();
  }
});

test('run: a disk image locked by another program is exit 1, as in img', async () => {
  const disk = join(dir, 'locked.raw');
  writeFileSync(disk, new Uint8Array(1 << 20));
  const held = await openImageFile(disk, { format: 'raw' });
  try {
    const r = await virtkit(['run', '--kernel', junk, '--disk', `${disk},format=raw`], '', 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Failed to get "write" lock/); // qemu-img's words (two lines), as img prints
    const i = await virtkit(['img', 'info', disk], '', 60_000); // a writer's lock: img info refuses too
    assert.equal(i.code, 1, i.stderr);
  } finally {
    await held.close();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a bad --disk is reported before the default guest is fetched (nothing downloaded)', async () => {
  const cache = join(dir, 'empty-cache');
  const r = await virtkit(['run', '--disk', join(dir, 'nope.img')], '', 60_000, { VIRTKIT_CACHE: cache });
  assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `more than one line:\n${r.stderr}`);
  assert.match(r.stderr, /--disk: .*nope\.img: no such file/);
  assert.doesNotMatch(r.stderr, /fetching/);
});
