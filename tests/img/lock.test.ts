/**
 * Image locking against the real thing: qemu-io and qemu-system-riscv64 holding an image make
 * `virtkit img` verbs (and virtkit's own opens) refuse it, -U lets read-only verbs through, and an
 * image virtkit holds makes qemu-img refuse it, with qemu-img's own words on both sides.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { openImageFile } from '../../src/host/node/open-image.ts';
import { qemu, qemuImg, scratch, sha256, virtkit } from './helpers.ts';
import { VIRTKIT, virtkit as virtkitCli } from '../support/virtkit.ts';

const haveQemu = spawnSync('qemu-img', ['--version']).status === 0 && spawnSync('qemu-io', ['--version']).status === 0;
const haveSystem = spawnSync('qemu-system-riscv64', ['--version']).status === 0;
const skip = process.platform !== 'linux' ? 'Linux only' : !haveQemu ? 'qemu-img/qemu-io not installed' : false;

/** Whether every byte in `bytes` of the file is under an OFD lock (/proc/locks). */
function hasLocks(path: string, bytes: number[]): boolean {
  const ino = statSync(path).ino;
  const held = new Set<number>();
  for (const l of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const f = l.trim().split(/\s+/);
    if (f[1] !== 'OFDLCK' || Number(f[5]?.split(':')[2]) !== ino) continue;
    for (let b = Number(f[6]); b <= Number(f[7]); b++) held.add(b);
  }
  return bytes.every((b) => held.has(b));
}

/** Starts a program that holds `path` open, and waits (bounded) until it holds `bytes`. */
async function hold(cmd: string, args: string[], path: string, bytes: number[]): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  for (let i = 0; i < 800 && !hasLocks(path, bytes); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!hasLocks(path, bytes)) {
    child.kill('SIGKILL');
    assert.fail(`${cmd} did not lock ${path}`);
  }
  return child;
}

async function release(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

/** The bytes QEMU holds for a read-write and a read-only open (see src/host/node/image-lock.ts). */
const WRITER = [100, 101, 103, 201, 203];
const READER = [100, 201, 203];

const WRITE_LOCK = /Failed to get "write" lock\nIs another process using the image \[.*\]\?/;
const SHARED_WRITE = /Failed to get shared "write" lock\nIs another process using the image \[.*\]\?/;

describe('image locks shared with QEMU', { skip }, () => {
  const s = scratch('virtkit-lock-');
  const base = s.path('base.qcow2');
  const top = s.path('top.qcow2');
  before(() => {
    qemu('create', '-f', 'qcow2', base, '4M');
    qemu('create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top);
  });
  after(() => s.done());

  it('qemu-io holding an image read-write: writing and reading verbs refuse, -U readers pass', async () => {
    const holder = await hold('qemu-io', ['-f', 'qcow2', '-c', 'sleep 600000', base], base, WRITER);
    try {
      const before = sha256(base);
      let r = await virtkit('snapshot', '-c', 'live', base);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, WRITE_LOCK);
      r = await virtkit('resize', base, '8M');
      assert.equal(r.status, 1);
      assert.match(r.stderr, WRITE_LOCK);
      // commit writes the backing file the holder has open.
      r = await virtkit('commit', top);
      assert.equal(r.status, 1);
      assert.match(r.stderr, WRITE_LOCK);
      // A converting read refuses to share write: the holder has it.
      r = await virtkit('convert', '-O', 'raw', base, s.path('out.raw'));
      assert.equal(r.status, 1);
      assert.match(r.stderr, SHARED_WRITE);
      r = await virtkit('info', base);
      assert.equal(r.status, 1);
      assert.match(r.stderr, SHARED_WRITE);
      r = await virtkit('create', '-f', 'qcow2', base, '1M');
      assert.equal(r.status, 1, 'create over an image in use refuses');
      assert.equal(sha256(base), before, 'nothing was written to the held image');

      for (const args of [
        ['info', '-U', base],
        ['check', '-U', base],
        ['snapshot', '-U', '-l', base],
        ['map', '-U', base],
        ['convert', '-U', '-O', 'raw', base, s.path('out.raw')],
        ['compare', '-U', base, s.path('out.raw')],
      ]) {
        r = await virtkit(...args);
        assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      }
      r = await virtkit('snapshot', '-U', '-c', 'x', base);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /force-share=on can only be used with read-only images/);
    } finally {
      await release(holder);
    }
    const r = await virtkit('snapshot', '-c', 'after', base);
    assert.equal(r.status, 0, 'the lock went with the holder');
    qemu('snapshot', '-d', 'after', base);
  });

  it('virtkit holding an image (writable, through its chain): qemu-img refuses it until close', async () => {
    const disk = await openImageFile(top, {});
    try {
      let q = qemuImg('info', top);
      assert.equal(q.status, 1);
      assert.match(q.stderr, SHARED_WRITE);
      assert.equal(qemuImg('info', '-U', top).status, 0);
      q = qemuImg('snapshot', '-c', 'x', top);
      assert.equal(q.status, 1);
      assert.match(q.stderr, WRITE_LOCK);
      // The backing file is held read-only and refuses writers, as QEMU's backing files do.
      q = qemuImg('snapshot', '-c', 'x', base);
      assert.equal(q.status, 1);
      assert.match(q.stderr, WRITE_LOCK);
      assert.equal(qemuImg('check', base).status, 0, 'readers of the backing file are welcome');
      // A second virtkit writer, or reader, conflicts; a -U reader does not.
      await assert.rejects(openImageFile(top, {}), { code: 'locked', message: WRITE_LOCK });
      await assert.rejects(openImageFile(top, { readOnly: true }), { code: 'locked', message: SHARED_WRITE });
      const peek = await openImageFile(top, { readOnly: true, forceShare: true });
      await peek.close();
      const r = await virtkit('snapshot', '-c', 'x', top);
      assert.equal(r.status, 1);
      assert.match(r.stderr, WRITE_LOCK);
    } finally {
      await disk.close();
    }
    assert.equal(qemuImg('snapshot', '-c', 'x', top).status, 0, 'released on close');
    qemu('snapshot', '-d', 'x', top);
    const again = await openImageFile(top, {});
    await again.close();
  });

  it('a read-only virtkit disk shares with readers and refuses writers', async () => {
    const disk = await openImageFile(base, { readOnly: true });
    try {
      assert.equal(qemuImg('info', base).status, 0);
      const q = qemuImg('snapshot', '-c', 'x', base);
      assert.equal(q.status, 1);
      assert.match(q.stderr, WRITE_LOCK);
      const other = await openImageFile(base, { readOnly: true });
      await other.close();
    } finally {
      await disk.close();
    }
  });

  it(
    'qemu-system-riscv64 with the disk attached',
    { skip: !haveSystem && 'qemu-system-riscv64 not installed' },
    async () => {
      const vm = (file: string, readonly: boolean) =>
        hold(
          'qemu-system-riscv64',
          [
            ...['-M', 'virt', '-S', '-nodefaults', '-display', 'none', '-serial', 'null', '-monitor', 'none'],
            ...['-drive', `file=${file},if=none,id=d0,format=qcow2${readonly ? ',readonly=on' : ''}`],
            ...['-device', 'virtio-blk-device,drive=d0'],
          ],
          file,
          readonly ? READER : WRITER,
        );
      let q = await vm(base, false);
      try {
        let r = await virtkit('snapshot', '-c', 'live', base);
        assert.equal(r.status, 1);
        assert.match(r.stderr, WRITE_LOCK);
        r = await virtkit('check', base);
        assert.equal(r.status, 1);
        assert.match(r.stderr, SHARED_WRITE);
        r = await virtkit('check', '-U', base);
        assert.equal(r.status, 0, r.stderr);
        await assert.rejects(openImageFile(base, {}), { code: 'locked' });
      } finally {
        await release(q);
      }
      q = await vm(base, true);
      try {
        const r = await virtkit('check', base);
        assert.equal(r.status, 0, r.stderr);
        await assert.rejects(openImageFile(base, {}), { code: 'locked', message: WRITE_LOCK });
      } finally {
        await release(q);
      }
      // And the other way round: QEMU refuses to start on a disk virtkit is writing.
      const disk = await openImageFile(base, {});
      try {
        const p = spawnSync(
          'qemu-system-riscv64',
          ['-M', 'virt', '-S', '-nodefaults', '-display', 'none', '-drive', `file=${base},if=none,id=d0,format=qcow2`],
          { encoding: 'utf8', input: '', timeout: 60_000 },
        );
        assert.notEqual(p.status, 0);
        assert.match(p.stderr, WRITE_LOCK);
      } finally {
        await disk.close();
      }
    },
  );

  it('two `virtkit run --disk` on one image: the second refuses it, and so does qemu-img', async () => {
    // A 64-byte RISC-V Linux Image whose code sleeps for ever: wfi; j wfi.
    const kernel = s.path('sleep.Image');
    const img = new Uint8Array(64);
    const dv = new DataView(img.buffer);
    dv.setUint32(0, 0x10500073, true);
    dv.setUint32(4, 0xffdff06f, true);
    dv.setUint32(8, 0x200000, true);
    dv.setUint32(16, 4096, true);
    dv.setUint32(56, 0x05435352, true);
    writeFileSync(kernel, img);
    const args = ['run', '--kernel', kernel, '--memory', '64M', '--disk', base];
    const first = await hold(process.execPath, [VIRTKIT, ...args], base, WRITER);
    try {
      const second = await virtkitCli(args, '', 120_000);
      assert.equal(second.code, 1, second.stderr); // a runtime condition, as in 'virtkit img' and qemu-img
      assert.match(second.stderr, WRITE_LOCK);
      const q = qemuImg('snapshot', '-c', 'x', base);
      assert.equal(q.status, 1);
      assert.match(q.stderr, WRITE_LOCK);
    } finally {
      await release(first);
    }
    assert.equal(qemuImg('snapshot', '-c', 'x', base).status, 0);
    qemu('snapshot', '-d', 'x', base);
  });
});
