import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryStore } from '../memory-store.ts';
import { findFormat } from '../registry.ts';
import { StorageError } from '../types.ts';
import type { BlockBackend, ByteStore } from '../types.ts';
import { vhdxFormat } from '../vhdx/index.ts';
import { digest, packOva, virtualBoxOvf, vmwareOvf, ovf2 } from './fixtures.test-util.ts';
import { exportOva, importOva } from './ova.ts';
import { readTar } from './tar.ts';

const MiB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'virtkit-ova-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function bytesOf(store: ByteStore): Promise<Uint8Array> {
  const b = new Uint8Array(await store.size());
  await store.read(0, b);
  return b;
}

async function readDisk(b: BlockBackend): Promise<Uint8Array> {
  const out = new Uint8Array(b.size);
  await b.read(0, out);
  return out;
}

/** A sparse disk (VHDX in memory) with a few patterned runs. */
async function sourceDisk(size: number, seed: number): Promise<BlockBackend> {
  const store = new MemoryStore(`src${seed}.vhdx`);
  await vhdxFormat.create!(store, size, { options: { block_size: '1M' } });
  const b = await vhdxFormat.open(store, {});
  for (let k = 0; k < 5; k++) {
    const data = new Uint8Array(70_000 + k * 1000).map((_, i) => (i * (seed + 3) + k) & 0xff || 1);
    await b.write(((k * 2654435761 + seed * 977) >>> 0) % (size - data.length), data);
  }
  return b;
}

/** A streamOptimized VMDK made by qemu-img, as a VMware or VirtualBox export would carry. */
function qemuStreamVmdk(size: number): Uint8Array {
  const raw = join(dir, 'fx.raw');
  const vmdk = join(dir, 'fx.vmdk');
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) data.fill((i >> 16) + 1, i, i + 3000);
  writeFileSync(raw, data);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, vmdk]);
  return new Uint8Array(readFileSync(vmdk));
}

describe('OVA export and import', () => {
  it('round-trips a VM: hardware and disks byte-exact, files in OVA order, qemu reads the disks', async () => {
    const disks = [await sourceDisk(6 * MiB + 512, 1), await sourceDisk(3 * MiB, 2)];
    const vm = {
      name: 'round trip',
      cpus: 3,
      memoryBytes: 1536 * MiB,
      nics: [{ network: 'lan', model: 'virtio', mac: '52:54:00:12:34:56' }, { network: 'wan' }],
      os: { id: 101, description: 'Debian', type: 'otherLinux64Guest' },
    };
    const out = new MemoryStore('out.ova');
    await exportOva(vm, disks, out);
    const names = (await readTar(out)).map((e) => e.name);
    assert.deepEqual(names, ['round_trip.ovf', 'round_trip.mf', 'round_trip-disk1.vmdk', 'round_trip-disk2.vmdk']);

    const imp = await importOva(out);
    assert.deepEqual(
      imp.verified,
      names.filter((n) => !n.endsWith('.mf')),
    );
    assert.equal(imp.vm.name, 'round trip');
    assert.equal(imp.vm.cpus, 3);
    assert.equal(imp.vm.memoryBytes, 1536 * MiB);
    assert.deepEqual(imp.vm.nics, [
      { network: 'lan', model: 'virtio', mac: '52:54:00:12:34:56' },
      { network: 'wan', model: 'VmxNet3', mac: undefined },
    ]);
    assert.deepEqual(imp.vm.os, vm.os);
    assert.equal(imp.disks.length, 2);
    const vmdk = findFormat('vmdk');
    for (let i = 0; i < 2; i++) {
      const d = imp.disks[i]!;
      assert.equal(d.disk.format, 'vmdk');
      assert.equal(d.disk.capacity, disks[i]!.size);
      assert.deepEqual(d.disk.controller, { kind: 'scsi', subtype: 'lsilogic' });
      const opened = await vmdk.open(d.store, { readOnly: true });
      assert.deepEqual(await readDisk(opened), await readDisk(disks[i]!));
      // The same disk, extracted, is a streamOptimized VMDK qemu-img agrees with.
      const file = join(dir, `d${i}.vmdk`);
      writeFileSync(file, await bytesOf(d.store));
      const info = JSON.parse(
        execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' }),
      ) as Record<string, unknown>;
      assert.equal(info['virtual-size'], disks[i]!.size);
      const raw = join(dir, `d${i}.raw`);
      writeFileSync(raw, await readDisk(disks[i]!));
      execFileSync('qemu-img', ['compare', '-f', 'vmdk', '-F', 'raw', file, raw]);
    }
    // GNU tar agrees on the layout, and sha256sum on the manifest.
    const ova = join(dir, 'rt.ova');
    writeFileSync(ova, out.bytes());
    assert.equal(execFileSync('tar', ['tf', ova], { encoding: 'utf8' }), names.join('\n') + '\n');
    execFileSync('tar', ['xf', ova], { cwd: dir });
    const mf = readFileSync(join(dir, 'round_trip.mf'), 'utf8');
    const lines = mf
      .trim()
      .split('\n')
      .map((l) => /^SHA256\((.+)\)= ([0-9a-f]{64})$/.exec(l)!);
    const sums = lines.map((m) => `${m[2]}  ${m[1]}`).join('\n') + '\n';
    writeFileSync(join(dir, 'sums'), sums);
    execFileSync('sha256sum', ['-c', '--quiet', 'sums'], { cwd: dir });
  });

  it('imports a VMware ovftool-style OVA with a SHA1 manifest', async () => {
    const disk = qemuStreamVmdk(2 * MiB);
    const ovf = vmwareOvf('web-01-disk1.vmdk', disk.length, 8);
    const mf = `SHA1(web-01.ovf)= ${digest('SHA1', ovf)}\nSHA1(web-01-disk1.vmdk)= ${digest('SHA1', disk)}\n`;
    const store = await packOva([
      ['web-01.ovf', ovf],
      ['web-01.mf', mf],
      ['web-01-disk1.vmdk', disk],
    ]);
    const imp = await importOva(store);
    assert.equal(imp.ovfVersion, 1);
    assert.deepEqual(imp.verified, ['web-01.ovf', 'web-01-disk1.vmdk']);
    const { disks, ...hw } = imp.vm;
    assert.deepEqual(hw, {
      name: 'web-01',
      cpus: 2,
      memoryBytes: 2048 * MiB,
      nics: [{ network: 'VM Network', model: 'VmxNet3', mac: undefined }],
      os: { id: 101, description: undefined, type: 'debian10_64Guest' },
    });
    assert.equal(disks.length, 1);
    assert.equal(disks[0]!.capacity, 8 * 1024 * MiB);
    assert.equal(disks[0]!.file, 'web-01-disk1.vmdk');
    assert.deepEqual(disks[0]!.controller, { kind: 'scsi', subtype: 'VirtualSCSI' });
    const b = await findFormat('vmdk').open(imp.disks[0]!.store, { readOnly: true });
    const got = await readDisk(b);
    assert.equal(got[65536], 2);
    assert.equal(got[65536 + 3000], 0);
  });

  it('imports a VirtualBox-style OVA (OVF 1.0 and 2.0) with a SHA256 manifest', async () => {
    const disk = qemuStreamVmdk(MiB);
    for (const [text, version] of [
      [virtualBoxOvf('alpine-disk001.vmdk', 20 * 1024 * MiB), 1],
      [ovf2('alpine-disk001.vmdk', 20 * 1024 * MiB), 2],
    ] as const) {
      const mf = `SHA256(alpine.ovf) = ${digest('SHA256', text)}\nSHA256(alpine-disk001.vmdk) = ${digest('SHA256', disk)}\n`;
      const imp = await importOva(
        await packOva([
          ['alpine.ovf', text],
          ['alpine.mf', mf],
          ['alpine-disk001.vmdk', disk],
        ]),
      );
      assert.equal(imp.ovfVersion, version);
      const d = imp.vm.disks[0]!;
      assert.equal(d.capacity, 20 * 1024 * MiB);
      assert.equal(d.format, 'vmdk');
      if (version === 1) {
        assert.equal(imp.vm.name, 'alpine');
        assert.equal(imp.vm.cpus, 1);
        assert.equal(imp.vm.memoryBytes, 512 * MiB);
        assert.deepEqual(imp.vm.nics, [{ network: 'NAT', model: 'E1000', mac: undefined }]);
        assert.deepEqual(imp.vm.os, { id: 101, description: 'Linux26_64', type: 'Linux26_64' });
        assert.deepEqual(d.controller, { kind: 'sata', subtype: 'AHCI' });
        assert.equal(d.unit, 0);
      } else {
        assert.equal(imp.vm.name, 'two');
        assert.equal(imp.vm.cpus, 4);
        assert.equal(imp.vm.memoryBytes, 1024 * MiB);
        assert.deepEqual(imp.vm.nics, [{ network: 'bridged', model: 'virtio', mac: '08:00:27:aa:bb:cc' }]);
        assert.deepEqual(d.controller, { kind: 'scsi', subtype: 'lsilogic' });
        assert.equal(d.unit, 2);
      }
    }
  });
});

describe('OVA leniency', () => {
  it('imports a descriptor with no CPU or memory item and its disk in a subfolder, with warnings', async () => {
    const disk = new Uint8Array(4096).fill(5);
    const ovf = vmwareOvf('disks/d.vmdk', disk.length, 1)
      .replace(/<Item>\s*<rasd:AllocationUnits>hertz[\s\S]*?<\/Item>/, '')
      .replace(/<Item>\s*<rasd:AllocationUnits>byte \* 2\^20[\s\S]*?<\/Item>/, '');
    assert.ok(!ovf.includes('<rasd:ResourceType>3<') && !ovf.includes('<rasd:ResourceType>4<'));
    const mf = `SHA256(vm.ovf)= ${digest('SHA256', ovf)}\nSHA256(disks/d.vmdk)= ${digest('SHA256', disk)}\n`;
    const imp = await importOva(
      await packOva([
        ['vm.ovf', ovf],
        ['vm.mf', mf],
        ['disks/d.vmdk', disk],
      ]),
    );
    assert.deepEqual([imp.vm.cpus, imp.vm.memoryBytes], [1, 512 * MiB]);
    assert.deepEqual(imp.verified, ['vm.ovf', 'disks/d.vmdk']);
    assert.equal(imp.disks[0]!.store.name, 'test.ova/disks/d.vmdk');
    assert.equal(imp.warnings.length, 2);
    assert.match(imp.warnings.join('\n'), /assuming 1 CPU\n.*assuming 512 MiB/);
  });
});

describe('OVA errors', () => {
  const disk = new Uint8Array(4096).fill(9);
  const ovf = vmwareOvf('d.vmdk', disk.length, 1);
  const goodMf = `SHA256(vm.ovf)= ${digest('SHA256', ovf)}\nSHA256(d.vmdk)= ${digest('SHA256', disk)}\n`;

  async function code(p: Promise<unknown>, c: string, msg: RegExp): Promise<void> {
    await assert.rejects(p, (e: unknown) => e instanceof StorageError && e.code === c && msg.test(e.message));
  }

  it('accepts the well-formed package these cases damage', async () => {
    const imp = await importOva(
      await packOva([
        ['vm.ovf', ovf],
        ['vm.mf', goodMf],
        ['d.vmdk', disk],
      ]),
    );
    assert.deepEqual(imp.verified, ['vm.ovf', 'd.vmdk']);
  });

  it('reports a disk whose digest does not match the manifest', async () => {
    const bad = disk.slice();
    bad[100] = 1;
    await code(
      importOva(
        await packOva([
          ['vm.ovf', ovf],
          ['vm.mf', goodMf],
          ['d.vmdk', bad],
        ]),
      ),
      'checksum',
      /SHA256 of d\.vmdk/,
    );
  });

  it('reports a manifest that skips a file or is malformed', async () => {
    const partial = `SHA256(vm.ovf)= ${digest('SHA256', ovf)}\n`;
    await code(
      importOva(
        await packOva([
          ['vm.ovf', ovf],
          ['vm.mf', partial],
          ['d.vmdk', disk],
        ]),
      ),
      'checksum',
      /does not cover d\.vmdk/,
    );
    await code(
      importOva(
        await packOva([
          ['vm.ovf', ovf],
          ['vm.mf', 'garbage line\n'],
          ['d.vmdk', disk],
        ]),
      ),
      'corrupt',
      /malformed manifest/,
    );
  });

  it('reports a missing disk file', async () => {
    await code(
      importOva(
        await packOva([
          ['vm.ovf', ovf],
          ['vm.mf', goodMf],
        ]),
      ),
      'not-found',
      /lacks d\.vmdk/,
    );
  });

  it('reports a size that disagrees with References', async () => {
    const other = vmwareOvf('d.vmdk', 1234, 1);
    await code(
      importOva(
        await packOva([
          ['vm.ovf', other],
          ['d.vmdk', disk],
        ]),
      ),
      'corrupt',
      /descriptor says 1234/,
    );
  });

  it('reports bad XML and non-OVF documents', async () => {
    await code(
      importOva(
        await packOva([
          ['vm.ovf', ovf.replace('</DiskSection>', '')],
          ['d.vmdk', disk],
        ]),
      ),
      'corrupt',
      /xml: line \d+/,
    );
    await code(
      importOva(
        await packOva([
          ['vm.ovf', '<a/>'],
          ['d.vmdk', disk],
        ]),
      ),
      'corrupt',
      /not an OVF/,
    );
    await code(importOva(await packOva([['d.vmdk', disk]])), 'corrupt', /no \.ovf/);
  });

  it('reports a truncated tar', async () => {
    const whole = (
      await packOva([
        ['vm.ovf', ovf],
        ['vm.mf', goodMf],
        ['d.vmdk', disk],
      ])
    ).bytes();
    await code(
      importOva(new MemoryStore('t.ova', whole.slice(0, whole.length - 3000))),
      'corrupt',
      /'d\.vmdk' is truncated/,
    );
  });
});

describe('OVA random damage', () => {
  it('gives StorageErrors only, never other exceptions', async () => {
    const disk = new Uint8Array(2048).fill(3);
    const ovf = virtualBoxOvf('d.vmdk', 4096);
    const whole = (
      await packOva([
        ['vm.ovf', ovf],
        ['d.vmdk', disk],
      ])
    ).bytes();
    let x = 12345;
    const rng = (n: number) => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (let i = 0; i < 300; i++) {
      const bad = whole.slice();
      for (let k = 0; k < 1 + rng(3); k++) bad[rng(512 + ovf.length)] = 32 + rng(95);
      try {
        await importOva(new MemoryStore('f.ova', bad));
      } catch (e) {
        if (!(e instanceof StorageError)) throw new Error(`iteration ${i}: ${String(e)}`);
      }
    }
  });
});
