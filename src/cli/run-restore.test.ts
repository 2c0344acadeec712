/**
 * `virtkit run --restore` treats the snapshot as untrusted: it opens no host file the snapshot
 * names, and the disks given with --disk must match the identities the snapshot recorded.
 * The snapshots are tiny bare-metal VMs (src/vmm/tiny-snapshot.ts), so no guest is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { virtkit } from '../../tests/support/virtkit.ts';
import { makeTinySnapshot } from '../vmm/tiny-snapshot.ts';
import { fingerprintDisk } from '../vmm/disk-identity.ts';
import { MemoryBackend } from '../virtio/testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-restore-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const PWNED = new Uint8Array(512).fill(0x50);

test('a crafted snapshot naming a host file as a disk does not touch it', async () => {
  const victim = join(dir, 'some-victim-file');
  const original = new Uint8Array(1 << 20).fill(0x41);
  writeFileSync(victim, original);
  // The disk has a write to sector 0 in flight: an old restore re-issued it on the named file.
  const snap = makeTinySnapshot({
    config: { version: 2, disks: [{ path: victim, readOnly: false }], nets: [], append: '' },
    disk: true,
    inflightWrite: PWNED,
  });
  const file = join(dir, 'crafted.snap');
  writeFileSync(file, snap);
  const r = await virtkit(['run', '--restore', file], '', 60_000);
  assert.deepEqual(readFileSync(victim), Buffer.from(original), 'the victim file was written');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /saved with 1 disk\(s\) .*some-victim-file.*give them with --disk/);
  // The network a snapshot names is not opened either: the NIC count must come from --net.
  const netSnap = join(dir, 'net.snap');
  writeFileSync(
    netSnap,
    makeTinySnapshot({ config: { version: 2, disks: [], nets: [`socket,listen=${join(dir, 'sock')}`], append: '' } }),
  );
  const n = await virtkit(['run', '--restore', netSnap], '', 60_000);
  assert.equal(n.code, 2, n.stderr);
  assert.match(n.stderr, /saved with 1 NIC\(s\): give as many --net \(0 given\)/);
});

/** A snapshot of version 3 recording the identity of a 1 MiB raw disk with `contents`. */
async function snapshotWithDisk(contents: Uint8Array, readOnly = false): Promise<Uint8Array> {
  const b = new MemoryBackend(contents.length);
  b.data.set(contents);
  const identity = await fingerprintDisk(b);
  return makeTinySnapshot({
    config: {
      version: 3,
      disks: [{ path: '/elsewhere/disk.img', format: 'raw', readOnly, identity }],
      nets: [],
      append: '',
    },
    disk: true,
  });
}

test('restore checks each --disk against the recorded identity (format, size, contents)', async () => {
  const contents = new Uint8Array(1 << 20);
  for (let i = 0; i < contents.length; i += 4096) contents[i] = (i >> 12) & 0xff;
  const file = join(dir, 'v3.snap');
  writeFileSync(file, await snapshotWithDisk(contents));
  const disk = (name: string, bytes: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  const same = disk('same.img', contents);
  const ok = await virtkit(['run', '--restore', file, '--disk', same], '', 60_000);
  assert.equal(ok.code, 0, ok.stderr);

  const bigger = disk('bigger.img', new Uint8Array(2 << 20));
  const r1 = await virtkit(['run', '--restore', file, '--disk', bigger], '', 60_000);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /--disk .*bigger\.img: not the snapshot's disk 1 .*virtual size is 2097152 bytes/);
  assert.equal(r1.stderr.trim().split('\n').length, 1, r1.stderr);

  const other = contents.slice();
  other[600 * 1024] ^= 1; // inside the first MiB
  const r2 = await virtkit(['run', '--restore', file, '--disk', disk('other.img', other)], '', 60_000);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /other\.img: not the snapshot's disk 1 .*contents differ/);

  // A qcow2 image with the same contents is still another format.
  const fmt = await virtkit(['img', 'convert', '-O', 'qcow2', same, join(dir, 'same.qcow2')], '', 60_000);
  assert.equal(fmt.code, 0, fmt.stderr);
  const r3 = await virtkit(['run', '--restore', file, '--disk', join(dir, 'same.qcow2')], '', 60_000);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /same\.qcow2: not the snapshot's disk 1 .*format is "qcow2", the snapshot's disk was "raw"/);

  const r4 = await virtkit(['run', '--restore', file], '', 60_000);
  assert.equal(r4.code, 2);
  assert.match(r4.stderr, /saved with 1 disk\(s\) \("\/elsewhere\/disk\.img"\): give them with --disk/);

  const r5 = await virtkit(['run', '--restore', file, '--disk', `${same},readonly`], '', 60_000);
  assert.equal(r5.code, 2);
  assert.match(r5.stderr, /was writable: drop readonly/);
});

test('an old snapshot without disk identities restores with the disks given, and a warning', async () => {
  const file = join(dir, 'v2.snap');
  writeFileSync(
    file,
    makeTinySnapshot({
      config: { version: 2, disks: [{ path: '/gone/x.img', readOnly: false }], append: '' },
      disk: true,
    }),
  );
  const d = join(dir, 'plain.img');
  writeFileSync(d, new Uint8Array(1 << 20));
  const r = await virtkit(['run', '--restore', file, '--disk', d], '', 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /warning: this snapshot .* records no disk identities: the disks given with --disk cannot be verified/,
  );
});
