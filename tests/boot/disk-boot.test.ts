/**
 * Booting from the disk as a board does: OpenSBI -> U-Boot -> /boot/extlinux/extlinux.conf on a
 * GPT disk -> the kernel and initramfs on that disk. The disks are made here with buildGpt and
 * e2fsprogs' `mke2fs -d` (no root needed) from the cached default guest's Image and initramfs,
 * and the good one boots in QEMU too, so the image is a real one rather than one shaped for
 * virtkit. The bad ones must end in a line naming the problem and exit status 1, never a hang.
 */
import { test, before, after as afterAll } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGpt } from '../../src/storage/gpt.ts';
import { TestDaemon } from '../manager/harness.ts';
import { ensureGuest, virtkit, GUEST_PROMPT, type RunResult } from '../support/virtkit.ts';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'virtkit-diskboot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXTLINUX = (kernel: string, initrd?: string) =>
  [
    'default l0',
    'label l0',
    `  linux ${kernel}`,
    ...(initrd ? [`  initrd ${initrd}`] : []),
    '  append console=ttyS0 virtkit.test=disk-boot',
    '',
  ].join('\n');

/**
 * A raw disk of `size` bytes: a GPT with one bootable Linux partition from 1 MiB holding an ext4
 * filesystem made from `files` (path in the filesystem -> host file or text), or no table at all.
 */
function makeDisk(name: string, size: number, files: Record<string, { from: string } | string>, table = true): string {
  const root = join(dir, `${name}-root`);
  for (const [path, what] of Object.entries(files)) {
    const to = join(root, path);
    mkdirSync(join(to, '..'), { recursive: true });
    if (typeof what === 'string') writeFileSync(to, what);
    else copyFileSync(what.from, to);
  }
  mkdirSync(root, { recursive: true });
  const disk = join(dir, `${name}.raw`);
  const fd = openSync(disk, 'w');
  ftruncateSync(fd, size);
  const start = table ? MiB : 0;
  const fsSize = table ? size - 2 * MiB : size;
  if (table) {
    const g = buildGpt({
      diskSize: size,
      diskGuid: randomUUID(),
      partitions: [{ start, size: fsSize, type: 'linux', uuid: randomUUID(), name: 'root', bootable: true }],
    });
    writeSync(fd, g.primary, 0, g.primary.length, 0);
    writeSync(fd, g.backup, 0, g.backup.length, g.backupOffset);
  }
  closeSync(fd);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, '-E', `offset=${start}`, disk, `${fsSize / 1024}k`]);
  return disk;
}

let good: string;
let fw: { fwJump: string; uboot: string };
let guest: { kernel: string; initrd: string };

before(async () => {
  ensureGuest();
  const { loadGuest } = await import('../../src/host/node/guest/debian-guest.ts');
  const { fetchFirmware } = await import('../../src/host/node/guest/firmware.ts');
  guest = (await loadGuest())!;
  fw = await fetchFirmware(); // what 'virtkit run' would fetch on first use (a no-op when cached)
  const raw = makeDisk('good', 96 * MiB, {
    'boot/Image': { from: guest.kernel },
    'boot/initramfs.cpio': { from: guest.initrd },
    'boot/extlinux/extlinux.conf': EXTLINUX('/boot/Image', '/boot/initramfs.cpio'),
  });
  // A table sfdisk finds sound, and a filesystem e2fsck finds clean.
  assert.match(execFileSync('sfdisk', ['--verify', raw], { encoding: 'utf8' }), /No errors detected/);
  good = join(dir, 'good.qcow2');
  execFileSync('qemu-img', ['convert', '-O', 'qcow2', raw, good]);
  rmSync(raw);
});

/** The boot chain in order in `out`: OpenSBI, U-Boot, the extlinux label, the kernel, the shell. */
function assertChain(r: RunResult, out = r.stdout) {
  const steps = [
    /OpenSBI v\d/,
    /U-Boot 20\d\d\.\d\d/,
    /Retrieving file: \/boot\/extlinux\/extlinux\.conf/,
    /1:\tl0/,
    /Retrieving file: \/boot\/Image/,
    /Starting kernel \.\.\./,
    /Linux version \d/,
    GUEST_PROMPT,
  ];
  let at = 0;
  for (const s of steps) {
    const m = s.exec(out.slice(at));
    assert.ok(m, `${s} missing after offset ${at}\n${r.stderr}\n${out.slice(-3000)}`);
    at += m.index + m[0].length;
  }
}

test(
  'a GPT disk with extlinux.conf boots through OpenSBI and U-Boot; a snapshot of it restores and powers off',
  { timeout: 900_000 },
  async () => {
    const snap = join(dir, 'disk-boot.snap');
    const r = await virtkit(['run', '--disk', good, '--save-on-exit', snap], 'echo "@@ $(cat /proc/cmdline)"\n');
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
    assertChain(r);
    assert.match(r.stdout, /@@ console=ttyS0 virtkit\.test=disk-boot/, "the kernel command line is extlinux.conf's");
    const back = await virtkit(['run', '--restore', snap, '--disk', good], 'echo "@@R $(uname -m)"\npoweroff -f\n');
    assert.equal(back.code, 0, `exit ${back.code}\n${back.stderr}\n${back.stdout.slice(-2000)}`);
    assert.match(back.stdout, /@@R riscv64/);
  },
);

test(
  '--kernel u-boot.bin --firmware fw_jump.bin given explicitly boots the disk, and the guest reboots through the chain',
  { timeout: 900_000 },
  async () => {
    const r = await virtkit(
      ['run', '--firmware', fw.fwJump, '--kernel', fw.uboot, '--disk', good],
      'reboot -f\necho "@@ second boot"\npoweroff -f\n',
    );
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
    const second = r.stdout.indexOf('reboot -f');
    assert.ok(second > 0);
    assertChain(r, r.stdout.slice(0, second));
    assertChain(r, r.stdout.slice(second));
    assert.match(r.stdout, /@@ second boot/);
  },
);

test(
  'the same disk boots in QEMU (qemu-system-riscv64 -bios fw_jump.bin -kernel u-boot.bin)',
  { timeout: 900_000 },
  async () => {
    assert.ok(existsSync('/usr/bin/qemu-system-riscv64'), 'qemu-system-riscv64 is missing: apt-get install qemu-system-misc');
    const q = spawn(
      'qemu-system-riscv64',
      [
        '-M',
        'virt',
        '-m',
        '512M',
        '-bios',
        fw.fwJump,
        '-kernel',
        fw.uboot,
        '-drive',
        `file=${good},format=qcow2,if=virtio`,
        '-snapshot',
        '-nographic',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let typed = false;
    q.stderr.on('data', (d) => (err += d));
    q.stdout.on('data', (d) => {
      out += d;
      if (!typed && GUEST_PROMPT.test(out)) {
        typed = true;
        q.stdin.write('echo "@@Q $(cat /proc/cmdline)"\npoweroff -f\n');
      }
    });
    const timer = setTimeout(() => q.kill('SIGKILL'), 840_000);
    const code = await new Promise<number | null>((res) => q.on('close', (c) => res(c)));
    clearTimeout(timer);
    const r = { code, signal: null, stdout: out, stderr: err };
    assert.equal(code, 0, `qemu exit ${code}\n${err}\n${out.slice(-3000)}`);
    assertChain(r);
    assert.match(out, /@@Q console=ttyS0 virtkit\.test=disk-boot/);
  },
);

test(
  'a daemon VM created from the bootable image boots from its disk and shuts down by the power button',
  { timeout: 900_000 },
  async () => {
    const d = new TestDaemon();
    try {
      await d.start();
      const c = await d.req('POST', '/v1/vms', { name: 'board', memory: 512, source: { type: 'image', path: good } });
      assert.equal(c.status, 201, c.text);
      const s = await d.req('POST', '/v1/vms/board/start');
      assert.equal(s.status, 200, s.text);
      const vms = join(d.stateDir, 'vms');
      const log = () => {
        const f = join(vms, readdirSync(vms)[0]!, 'console.log');
        return existsSync(f) ? readFileSync(f, 'latin1') : '';
      };
      const deadline = Date.now() + 600_000;
      while (!GUEST_PROMPT.test(log())) {
        const st = (await d.req('GET', '/v1/vms/board')).body.state as string;
        if (st !== 'running' || Date.now() > deadline)
          assert.fail(`VM ${st} before its prompt:\n${log().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      assertChain({ code: 0, signal: null, stdout: log(), stderr: '' });
      assert.equal((await d.req('POST', '/v1/vms/board/shutdown', { timeout: 120 })).status, 200);
      while ((await d.req('GET', '/v1/vms/board')).body.state !== 'stopped') {
        if (Date.now() > deadline) assert.fail(`no power-off:\n${log().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.match(log(), /power button pressed/);
    } finally {
      await d.cleanup();
    }
  },
);

/** `virtkit run ARGS` that must stop at U-Boot's prompt: exit 1 and the one virtkit line. */
async function refused(args: string[], why: RegExp): Promise<RunResult> {
  const r = await virtkit(['run', ...args], '', 600_000);
  assert.equal(r.code, 1, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^virtkit: the firmware found nothing to boot on the disk: /);
  assert.match(lines[0]!, why);
  return r;
}

test(
  'a disk without partition table under --boot disk: U-Boot says so, virtkit exits 1 (headless, with QMP)',
  { timeout: 600_000 },
  async () => {
    const disk = makeDisk('no-table', 8 * MiB, { 'boot/extlinux/extlinux.conf': EXTLINUX('/boot/Image') }, false);
    const log = join(dir, 'no-table.log');
    const r = await refused(
      [
        '--boot',
        'disk',
        '--disk',
        disk,
        '--console',
        `unix:${join(dir, 'c.sock')}`,
        '--qmp',
        `unix:${join(dir, 'q.sock')}`,
        '--console-log',
        log,
      ],
      /the disk has no partition table \(U-Boot: "\*\* No partition table - virtio 0 \*\*"\)/,
    );
    assert.equal(r.stdout, '', 'headless: the console is the socket');
    assert.doesNotMatch(r.stderr, /--boot guest/, '--boot disk was asked for');
    const text = readFileSync(log, 'latin1');
    assert.match(text, /\*\* No partition table - virtio 0 \*\*/);
    assert.match(text, /\n=> $/);
  },
);

test('a GPT disk without extlinux.conf', { timeout: 600_000 }, async () => {
  const disk = makeDisk('no-conf', 8 * MiB, { 'boot/readme': 'nothing to boot here\n' });
  const r = await refused(
    ['--disk', disk],
    /no \/extlinux\/extlinux\.conf or \/boot\/extlinux\/extlinux\.conf on partition virtio 0:1/,
  );
  assert.match(
    r.stderr,
    /\(--boot guest boots the default guest with the disk attached\)$/m,
    'a data disk? the way out',
  );
  assert.match(r.stdout, /Scanning virtio 0:1\.\.\./);
  assert.match(r.stdout, /\n=> $/);
});

test('extlinux.conf naming a kernel that is not on the disk', { timeout: 600_000 }, async () => {
  const disk = makeDisk('no-kernel', 8 * MiB, { 'boot/extlinux/extlinux.conf': EXTLINUX('/boot/Image-gone') });
  const r = await refused(
    ['--disk', disk],
    /the kernel of extlinux\.conf's label 'l0', \/boot\/Image-gone, is not on the disk/,
  );
  assert.match(r.stdout, /\*\* File not found \/boot\/Image-gone \*\*/);
  assert.match(r.stdout, /Skipping l0 for failure retrieving kernel/);
});

test('a damaged filesystem (superblock zeroed)', { timeout: 600_000 }, async () => {
  const disk = makeDisk('damaged', 8 * MiB, { 'boot/extlinux/extlinux.conf': EXTLINUX('/boot/Image') });
  const fd = openSync(disk, 'r+');
  writeSync(fd, new Uint8Array(64 * 1024), 0, 64 * 1024, MiB); // the partition's first 64 KiB: superblock, group descriptors
  closeSync(fd);
  const r = await refused(['--disk', disk], /no partition holds a filesystem U-Boot can read/);
  assert.match(r.stdout, /QEMU VirtIO Block Device/);
  assert.doesNotMatch(r.stdout, /Scanning virtio 0:1/, 'U-Boot found no filesystem to scan');
  assert.match(r.stdout, /\n=> $/);
});

test('--boot is checked before anything boots', async () => {
  const blank = join(dir, 'blank.raw');
  writeFileSync(blank, new Uint8Array(MiB));
  for (const [args, want] of [
    [['--boot', 'cdrom'], /--boot must be 'disk' or 'guest', not 'cdrom'/],
    [['--boot', 'disk'], /--boot disk needs a --disk to boot from/],
    [['--boot', 'guest', '--kernel', blank], /drop one of --boot guest and --kernel/],
    [
      ['--boot', 'disk', '--disk', blank, '--initrd', blank],
      /--initrd needs --kernel: a disk boot loads the initrd its extlinux\.conf names/,
    ],
  ] as const) {
    const r = await virtkit(['run', ...args], '', 60_000);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, want);
  }
});
