/**
 * Disks that hold filesystems, through the public CLI: a raw and a qcow2 disk made with qemu-img
 * are formatted in the default guest (mkfs.ext2, mounted by the ext4 driver; mkfs.vfat), mounted
 * without -t (the modules load on demand), written, unmounted; the guest reboots and finds the
 * files; a second virtkit process boots with the same disks and finds them again. A real ext4
 * made on the host (journal, metadata_csum: needs crc32c) is mounted and written too. The host
 * then reads the images with its own tools where it has them (debugfs/e2fsck, qemu-img).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuest, KERNEL_BANNER, virtkit } from '../support/virtkit.ts';

/** Disks are told apart by size in the guest (512-byte sectors in /sys/block/vd?/size). */
const RAW_MB = 64;
const QCOW_MB = 48;
const EXT4_MB = 32;

const SEQ_TEXT = Array.from({ length: 50_000 }, (_, i) => String(i + 1)).join('\n') + '\n';
const SEQ_MD5 = createHash('md5').update(SEQ_TEXT).digest('hex');

/** Shell lines that set R, Q (and E) to the devices of the raw, qcow2 (and host ext4) disks. */
const FIND_DISKS = [
  'dev() { for d in /sys/block/vd*; do [ "$(cat $d/size)" = "$1" ] && echo /dev/${d##*/}; done; }',
  `R=$(dev ${RAW_MB * 2048}); Q=$(dev ${QCOW_MB * 2048}); E=$(dev ${EXT4_MB * 2048}); echo "@@DEV r=$R q=$Q e=$E"`,
  'mkdir -p /mnt/r /mnt/q /mnt/e',
];

/** Mounts R and Q (no -t) and prints what the files hold. */
const READ_BACK = (tag: string) => [
  'mount $R /mnt/r && mount $Q /mnt/q',
  `echo "@@${tag}R $(cat /mnt/r/hello.txt) $(md5sum < /mnt/r/sub/seq)"`,
  `echo "@@${tag}Q $(cat /mnt/q/HELLO.TXT) $(md5sum < /mnt/q/SEQ.TXT)"`,
];

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function tool(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test(
  'format raw and qcow2 disks in the guest, write, reboot, boot again: the files are there',
  { timeout: 1_200_000 },
  async (t) => {
    ensureGuest();
    assert.ok(have('qemu-img'), 'qemu-img is needed to make the disks');
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-fs-'));
    try {
      const raw = join(dir, 'r.raw');
      const qcow = join(dir, 'q.qcow2');
      assert.equal(tool('qemu-img', ['create', '-q', '-f', 'raw', raw, `${RAW_MB}M`]).status, 0);
      assert.equal(tool('qemu-img', ['create', '-q', '-f', 'qcow2', qcow, `${QCOW_MB}M`]).status, 0);
      const disks = ['--disk', raw, '--disk', qcow];

      // First process: format, mount, write, unmount, reboot, read back, write more.
      const first = await virtkit(
        ['run', '--memory', '256M', ...disks],
        [
          ...FIND_DISKS,
          'mkfs.ext2 $R >/dev/null 2>&1 && echo "@@MKFS ext2 $?"',
          'mkfs.vfat $Q >/dev/null 2>&1 && echo "@@MKFS vfat $?"',
          'mount $R /mnt/r && mount $Q /mnt/q && mount | grep /mnt/ | sed "s/^/@@MOUNTED /"',
          'echo raw-file-1 > /mnt/r/hello.txt && mkdir /mnt/r/sub && seq 1 50000 > /mnt/r/sub/seq',
          'echo QCOW-FILE-1 > /mnt/q/HELLO.TXT && seq 1 50000 > /mnt/q/SEQ.TXT',
          'umount /mnt/r && umount /mnt/q && echo "@@UMOUNT $?"',
          'reboot -f',
          ...FIND_DISKS,
          ...READ_BACK('B'),
          'echo second-boot > /mnt/r/second.txt && echo SECOND > /mnt/q/SECOND.TXT',
          'umount /mnt/r && umount /mnt/q && echo "@@UMOUNT2 $?"',
          'poweroff -f',
          '',
        ].join('\n'),
      );
      const out1 = first.stdout;
      assert.equal(first.code, 0, `exit ${first.code} ${first.signal}\n${first.stderr}\n${out1.slice(-3000)}`);
      assert.equal(out1.match(KERNEL_BANNER)?.length, 2, 'one reboot');
      assert.match(out1, /@@DEV r=\/dev\/vd[ab] q=\/dev\/vd[ab] e=\s/);
      assert.match(out1, /@@MKFS ext2 0/);
      assert.match(out1, /@@MKFS vfat 0/);
      assert.match(
        out1,
        /@@MOUNTED \/dev\/vd. on \/mnt\/r type ext4/,
        'busybox mke2fs makes ext2; the ext4 driver mounts it',
      );
      assert.match(out1, /@@MOUNTED \/dev\/vd. on \/mnt\/q type vfat/);
      assert.match(out1, /@@UMOUNT 0/);
      assert.match(out1, new RegExp(`@@BR raw-file-1 ${SEQ_MD5}`), 'ext2 files after the reboot');
      assert.match(out1, new RegExp(`@@BQ QCOW-FILE-1 ${SEQ_MD5}`), 'vfat files after the reboot');
      assert.match(out1, /@@UMOUNT2 0/);

      // The host reads what the guest wrote.
      if (have('debugfs') && have('e2fsck')) {
        assert.equal(tool('debugfs', ['-R', 'cat /hello.txt', raw]).out.includes('raw-file-1\n'), true);
        assert.equal(tool('debugfs', ['-R', 'cat /second.txt', raw]).out.includes('second-boot\n'), true);
        const fsck = tool('e2fsck', ['-fn', raw]);
        assert.equal(fsck.status, 0, `e2fsck finds the guest's ext2 clean:\n${fsck.out}`);
      } else t.diagnostic('debugfs/e2fsck not installed: the raw disk is not checked on the host');
      const check = tool('qemu-img', ['check', qcow]);
      assert.equal(check.status, 0, `qemu-img check: ${check.out}`);
      const flat = join(dir, 'q.raw');
      assert.equal(tool('qemu-img', ['convert', '-O', 'raw', qcow, flat]).status, 0);
      const bytes = readFileSync(flat);
      assert.ok(bytes.includes('HELLO   TXT'), 'the FAT directory entry of HELLO.TXT');
      assert.ok(bytes.includes('QCOW-FILE-1\n'), "HELLO.TXT's contents");
      rmSync(flat);

      // A real ext4 made on the host: journal, extents, metadata_csum (crc32c on demand).
      const ext4 = join(dir, 'e.ext4');
      if (have('mkfs.ext4')) {
        const seed = join(dir, 'seed');
        mkdirSync(seed);
        writeFileSync(join(seed, 'from-host.txt'), 'host-made-ext4\n');
        const mk = tool('mkfs.ext4', ['-q', '-F', '-d', seed, ext4, `${EXT4_MB}M`]);
        assert.equal(mk.status, 0, mk.out);
        disks.push('--disk', `${ext4},format=raw`);
      } else t.diagnostic('mkfs.ext4 not installed: no host-made ext4 disk');

      // Second process, same disks: the files survived the power-off.
      const second = await virtkit(
        ['run', '--memory', '256M', ...disks],
        [
          ...FIND_DISKS,
          ...READ_BACK('C'),
          'echo "@@C2 $(cat /mnt/r/second.txt) $(cat /mnt/q/SECOND.TXT)"',
          'umount /mnt/r && umount /mnt/q',
          '[ -n "$E" ] && mount $E /mnt/e && echo "@@E $(cat /mnt/e/from-host.txt)" && mount | grep /mnt/e | sed "s/^/@@MOUNTED /"',
          '[ -n "$E" ] && echo guest-wrote-ext4 > /mnt/e/from-guest.txt && umount /mnt/e && echo "@@EUMOUNT $?"',
          'poweroff -f',
          '',
        ].join('\n'),
      );
      const out2 = second.stdout;
      assert.equal(second.code, 0, `exit ${second.code} ${second.signal}\n${second.stderr}\n${out2.slice(-3000)}`);
      assert.match(out2, new RegExp(`@@CR raw-file-1 ${SEQ_MD5}`));
      assert.match(out2, new RegExp(`@@CQ QCOW-FILE-1 ${SEQ_MD5}`));
      assert.match(out2, /@@C2 second-boot SECOND/);
      if (disks.length === 6) {
        assert.match(out2, /@@E host-made-ext4/);
        assert.match(out2, /@@MOUNTED \/dev\/vd. on \/mnt\/e type ext4/);
        assert.match(out2, /@@EUMOUNT 0/);
        if (have('debugfs') && have('e2fsck')) {
          assert.ok(tool('debugfs', ['-R', 'cat /from-guest.txt', ext4]).out.includes('guest-wrote-ext4\n'));
          const fsck = tool('e2fsck', ['-fn', ext4]);
          assert.equal(fsck.status, 0, `e2fsck finds the host ext4 clean after the guest wrote it:\n${fsck.out}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
