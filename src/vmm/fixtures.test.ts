/**
 * Snapshot files as earlier versions of virtkit wrote them keep restoring. The fixtures are tiny
 * bare-metal VMs (src/vmm/tiny-snapshot.ts: 16 MiB RAM, one 1 MiB disk, a program that powers
 * off): tiny-config-v2.snap was written by virtkit a9e94fb (run config version 2, disks by path
 * only), tiny-config-v3.snap by the version that added disk identities (config version 3).
 * Regenerate new ones only when the format changes, and keep the old files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Vm, type StopReason } from './vm.ts';
import { testHost } from './tiny-snapshot.ts';
import { readSavedConfig } from './saved-config.ts';
import { StateReader } from '../memory/state.ts';
import { MemoryBackend } from '../virtio/testing.ts';
import { fingerprintDisk, identityMismatch } from './disk-identity.ts';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));

for (const [name, version] of [
  ['tiny-config-v2.snap', 2],
  ['tiny-config-v3.snap', 3],
] as const) {
  test(`${name} restores and its guest runs to power-off`, async () => {
    const bytes = fixture(name);
    assert.ok(bytes.length < 8192);
    const disk = new MemoryBackend(1 << 20);
    let stopped: StopReason | undefined;
    const done = new Promise<void>((res) => {
      void Vm.restore(
        bytes,
        async (saved) => {
          const cfg = readSavedConfig(new StateReader('snapshot', saved, undefined, 'meta.config'));
          assert.equal(cfg.version, version);
          assert.equal(cfg.disks.length, 1);
          assert.equal(cfg.append, 'console=ttyS0');
          if (version >= 3)
            assert.equal(identityMismatch(cfg.disks[0]!.identity!, await fingerprintDisk(disk)), undefined);
          else assert.equal(cfg.disks[0]!.identity, undefined);
          return { disks: [{ backend: disk }], translate: false };
        },
        testHost,
        {
          output: () => {},
          stopped: (r) => {
            stopped = r;
            res();
          },
        },
      ).then((vm) => {
        // The fixtures predate the power button: it comes up fresh, with no driver to press for.
        assert.equal(vm.machine.powerButtonMmio.status, 0);
        assert.equal(vm.pressPowerButton(), false);
        vm.start();
      });
    });
    await done;
    assert.deepEqual(stopped, { kind: 'poweroff' });
  });
}

test("the page's configuration reads with its disk records kept and no run disks", async () => {
  const { readSavedConfig } = await import('./saved-config.ts');
  const { StateReader } = await import('../memory/state.ts');
  const web = { disks: [{ kind: 'url', name: 'http://x/d.qcow2', writable: false }] };
  const page = readSavedConfig(new StateReader('snapshot', { append: 'a', web }, undefined, 'meta.config'), {
    page: true,
  });
  assert.deepEqual(page.disks, []);
  assert.deepEqual(page.web, web);
  // Read as `virtkit run` reads it, the same configuration has no disks it could reopen.
  assert.throws(
    () => readSavedConfig(new StateReader('snapshot', { append: 'a', web }, undefined, 'meta.config')),
    /meta\.config\.disks/,
  );
});
