/**
 * Disk images from the wild: VHD/VHDX differencing chains (parent identity, parent paths written
 * on Windows) and fixed VHDs (footer only at the end), checked against qemu-img where it can
 * judge (qemu reads neither VHD nor VHDX differencing chains, so those are checked here alone).
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { buildDynamicHeader, encodeW2, parseDynamicHeader } from '../../src/storage/vhd/dynamic-header.ts';
import { VHD_EPOCH, buildFooter, parseFooter } from '../../src/storage/vhd/footer.ts';
import { qemu, qemuIo, qemuJson, scratch, sha256, virtkit } from './helpers.ts';

const s = scratch('virtkit-vhd-diff-');
after(() => s.done());

function ok(r: { status: number; stderr: string }): void {
  assert.equal(r.status, 0, r.stderr);
}

describe('VHDX differencing', () => {
  it('img info and rebase -u open a differencing VHDX (the parent is not checked while unopened)', async () => {
    qemu('create', '-q', '-f', 'vhdx', s.path('p.vhdx'), '64M');
    ok(await virtkit('create', '-f', 'vhdx', '-b', 'p.vhdx', s.path('c.vhdx')));
    const info = await virtkit('info', s.path('c.vhdx'));
    ok(info);
    assert.match(info.stdout, /backing file: p\.vhdx/);
    assert.match(info.stdout, /virtual size: 64 MiB/);
    ok(await virtkit('info', '--backing-chain', s.path('c.vhdx')));
    // rebase -u gets past opening (VHDX cannot rewrite its parent yet: a clear refusal, not a size error).
    const r = await virtkit('rebase', '-u', '-b', 'p.vhdx', s.path('c.vhdx'));
    assert.doesNotMatch(r.stderr, /parent size 0/);
  });

  it("refuses a parent whose DataWriteGuid is not the child's parent_linkage, naming both files and GUIDs", async () => {
    qemu('create', '-q', '-f', 'vhdx', s.path('p2.vhdx'), '64M');
    ok(await virtkit('create', '-f', 'vhdx', '-b', 'p2.vhdx', s.path('c2.vhdx')));
    ok(await virtkit('compare', s.path('c2.vhdx'), s.path('p2.vhdx')));
    qemu('create', '-q', '-f', 'vhdx', s.path('p2.vhdx'), '64M'); // an unrelated disk of the same name
    const r = await virtkit('compare', s.path('c2.vhdx'), s.path('p2.vhdx'));
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /c2\.vhdx.*parent "p2\.vhdx".*p2\.vhdx\) has DataWriteGuid \{[0-9A-F-]{36}\}.*parent_linkage is \{[0-9A-F-]{36}\}/,
    );
  });
});

/** Rewrites a differencing VHD's parent locators (both W2ru and W2ku) and unicode name. */
function setVhdLocators(path: string, w2ru: string, w2ku: string, name: string): void {
  const f = readFileSync(path);
  const h = parseDynamicHeader(f.subarray(512, 1536));
  const datas = { W2ru: encodeW2(w2ru), W2ku: encodeW2(w2ku) };
  for (const l of h.locators) {
    const d = datas[l.platform as 'W2ru' | 'W2ku'];
    assert.ok(d.length <= l.dataSpace * 512);
    f.fill(0, l.dataOffset, l.dataOffset + l.dataSpace * 512);
    f.set(d, l.dataOffset);
    l.dataLength = d.length;
  }
  f.set(buildDynamicHeader({ ...h, parentName: name }), 512);
  writeFileSync(path, f);
}

describe('VHD differencing', () => {
  it("create -b records the parent's unique ID and modification time", async () => {
    qemu('create', '-q', '-f', 'vpc', s.path('p.vhd'), '16M');
    ok(await virtkit('create', '-f', 'vpc', '-b', 'p.vhd', s.path('c.vhd')));
    const parent = parseFooter(readFileSync(s.path('p.vhd')).subarray(0, 512), 'parent');
    const h = parseDynamicHeader(readFileSync(s.path('c.vhd')).subarray(512, 1536));
    assert.deepEqual(h.parentUuid, parent.uuid);
    assert.equal(h.parentTimestamp, Math.floor(statSync(s.path('p.vhd')).mtimeMs / 1000) - VHD_EPOCH);
  });

  it('refuses an unrelated parent, naming both files and both IDs', async () => {
    qemu('create', '-q', '-f', 'vpc', s.path('q.vhd'), '16M');
    ok(await virtkit('create', '-f', 'vpc', '-b', 'q.vhd', s.path('d.vhd')));
    ok(await virtkit('compare', s.path('d.vhd'), s.path('q.vhd')));
    qemu('create', '-q', '-f', 'vpc', s.path('q.vhd'), '16M');
    const r = await virtkit('compare', s.path('d.vhd'), s.path('q.vhd'));
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /d\.vhd: parent "q\.vhd" \(.*q\.vhd\) has unique ID [0-9a-f]{32}, but .* unique ID [0-9a-f]{32}/,
    );
    // info without --backing-chain does not open the parent, so it still describes the child.
    ok(await virtkit('info', s.path('d.vhd')));
  });

  it('a missing parent names every path tried', async () => {
    qemu('create', '-q', '-f', 'vpc', s.path('gone.vhd'), '16M');
    ok(await virtkit('create', '-f', 'vpc', '-b', 'gone.vhd', s.path('e.vhd')));
    setVhdLocators(s.path('e.vhd'), '..\\elsewhere\\gone.vhd', 'D:\\VMs\\gone.vhd', 'D:\\VMs\\gone.vhd');
    renameSync(s.path('gone.vhd'), s.path('gone-moved.vhd'));
    const r = await virtkit('compare', s.path('e.vhd'), s.path('gone-moved.vhd'));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /W2ru locator "\.\.\\elsewhere\\gone\.vhd": .*elsewhere\/gone\.vhd/);
    assert.match(
      r.stderr,
      /W2ku locator "D:\\VMs\\gone\.vhd" \(a Windows path: looked for as "gone\.vhd" beside the child\)/,
    );
    // The Windows absolute path was not joined onto the child's directory.
    assert.doesNotMatch(r.stderr, /\/D:\//);
  });

  it('finds a parent named by a Windows absolute path beside the child', async () => {
    qemu('create', '-q', '-f', 'vpc', s.path('base.vhd'), '16M');
    qemuIo(s.path('base.vhd'), 'vpc', 'write -P 0x3c 64k 64k');
    ok(await virtkit('create', '-f', 'vpc', '-b', 'base.vhd', s.path('f.vhd')));
    setVhdLocators(s.path('f.vhd'), '..\\other\\base.vhd', 'C:\\Hyper-V\\base.vhd', 'C:\\Hyper-V\\base.vhd');
    ok(await virtkit('compare', s.path('f.vhd'), s.path('base.vhd')));
  });
});

describe('fixed VHD (footer only at the end)', () => {
  const MiB = 1 << 20;
  const fixed = s.path('fixed.vhd');
  qemu('create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', fixed, '20M');
  qemuIo(fixed, 'vpc', 'write -P 0x5a 1M 64k', 'write -P 0xa5 19M 4k');
  const qemuSize = (qemuJson('info', '-f', 'vpc', '--output=json', fixed) as { 'virtual-size': number })[
    'virtual-size'
  ];

  it('img info prints it as vpc with the size qemu-img -f vpc gives', async () => {
    const r = await virtkit('info', '--output=json', fixed);
    ok(r);
    const j = JSON.parse(r.stdout) as { format: string; 'virtual-size': number };
    assert.equal(j.format, 'vpc');
    assert.equal(j['virtual-size'], qemuSize);
    assert.equal(statSync(fixed).size, qemuSize + 512);
  });

  it('convert, compare and map without -f do what qemu-img -f vpc does', async () => {
    ok(await virtkit('convert', '-O', 'raw', fixed, s.path('fixed-v.raw')));
    qemu('convert', '-f', 'vpc', '-O', 'raw', fixed, s.path('fixed-q.raw'));
    assert.equal(statSync(s.path('fixed-v.raw')).size, qemuSize);
    assert.equal(sha256(s.path('fixed-v.raw')), sha256(s.path('fixed-q.raw')));
    ok(await virtkit('compare', fixed, s.path('fixed-q.raw')));
    const m = await virtkit('map', '--output=json', fixed);
    ok(m);
    assert.deepEqual(JSON.parse(m.stdout), qemuJson('map', '-f', 'vpc', '--output=json', fixed));
  });

  it('resize without -f refuses (as qemu-img -f vpc does) and leaves the footer alone', async () => {
    const before = sha256(fixed);
    const r = await virtkit('resize', fixed, String(40 * MiB));
    assert.notEqual(r.status, 0);
    assert.equal(sha256(fixed), before);
    assert.notEqual(qemu_status('resize', '-f', 'vpc', fixed, String(40 * MiB)), 0);
  });

  it('is not detected from a footer anywhere but the last 512 bytes, with the exact size', async () => {
    const tail = readFileSync(fixed).subarray(-512);
    // The footer 512 bytes before the end: a raw disk holding a VHD image.
    const shifted = s.path('shifted.img');
    writeFileSync(shifted, readFileSync(fixed));
    appendFileSync(shifted, new Uint8Array(512));
    // The footer at the end but describing another size.
    const wrongSize = s.path('wrong-size.img');
    writeFileSync(wrongSize, readFileSync(fixed).subarray(0, qemuSize - MiB));
    appendFileSync(wrongSize, tail);
    // A dynamic footer copy at the end (disk type 3) with a matching size.
    const f = parseFooter(tail, 'test');
    const dynamicTail = buildFooter({ ...f, diskType: 3 });
    const dyn = s.path('dynamic-tail.img');
    writeFileSync(dyn, readFileSync(fixed).subarray(0, qemuSize));
    appendFileSync(dyn, dynamicTail);
    // A bad checksum.
    const badSum = s.path('bad-sum.img');
    const bytes = readFileSync(fixed);
    bytes[bytes.length - 512 + 100] ^= 1;
    writeFileSync(badSum, bytes);
    for (const p of [shifted, wrongSize, dyn, badSum]) {
      const r = await virtkit('info', '--output=json', p);
      ok(r);
      const j = JSON.parse(r.stdout) as { format: string };
      assert.equal(j.format, 'raw', p);
      assert.equal((qemuJson('info', '--output=json', p) as { format: string }).format, 'raw');
    }
  });

  it('a qcow2 whose last bytes look like a fixed VHD footer stays qcow2', async () => {
    const q = s.path('tail.qcow2');
    qemu('create', '-q', '-f', 'qcow2', q, '1M');
    const size = statSync(q).size;
    const f = parseFooter(readFileSync(fixed).subarray(-512), 'test');
    appendFileSync(q, buildFooter({ ...f, currentSize: size, originalSize: size }));
    const r = await virtkit('info', '--output=json', q);
    ok(r);
    assert.equal((JSON.parse(r.stdout) as { format: string }).format, 'qcow2');
  });
});

function qemu_status(...args: string[]): number {
  try {
    qemu(...args);
    return 0;
  } catch {
    return 1;
  }
}
