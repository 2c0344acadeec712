/**
 * Differential tests against the real qemu-img / qemu-io: images qemu writes read byte-exact
 * here, and images written here pass `qemu-img check` and `qemu-img compare`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileStore } from '../../host/node/file-store.ts';
import { makeRng } from '../contract/block-backend-contract.ts';
import { vhdxFormat } from './index.ts';
import { MiB } from './layout.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-vhdx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

function qemuIo(file: string, cmds: string[]): void {
  execFileSync('qemu-io', ['-f', 'vhdx', ...cmds.flatMap((c) => ['-c', c]), file], { encoding: 'utf8' });
}

async function readAll(path: string): Promise<Uint8Array> {
  const b = await vhdxFormat.open(await FileStore.open(path, { readOnly: true }), { readOnly: true });
  const out = new Uint8Array(b.size);
  await b.read(0, out);
  await b.close();
  return out;
}

function qemuRaw(path: string): Uint8Array {
  const raw = join(dir, 'out.raw');
  qemuImg('convert', '-f', 'vhdx', '-O', 'raw', path, raw);
  return new Uint8Array(readFileSync(raw));
}

describe('vhdx against qemu', () => {
  for (const [label, opts] of [
    ['dynamic, default block size', ''],
    ['dynamic, 1 MiB blocks, 2 MiB log', 'block_size=1M,log_size=2M'],
    ['fixed, 1 MiB blocks', 'subformat=fixed,block_size=1M'],
  ] as const) {
    it(`reads what qemu-io wrote (${label})`, async () => {
      const path = join(dir, 'q.vhdx');
      const size = 20 * MiB + 4096;
      qemuImg('create', '-q', '-f', 'vhdx', ...(opts ? ['-o', opts] : []), path, String(size));
      qemuIo(path, [
        'write -P 0x11 0 4096',
        'write -P 0x22 1048000 5000',
        'write -P 0x33 9437184 3145728',
        'write -z 9500000 65536',
        `write -P 0x44 ${size - 512} 512`,
      ]);
      const info = JSON.parse(qemuImg('info', '--output=json', path)) as { 'virtual-size': number };
      const mine = await readAll(path);
      assert.equal(mine.length, info['virtual-size']);
      assert.ok(Buffer.from(mine).equals(qemuRaw(path)), 'content differs from qemu-img convert');
      assert.equal(mine[size - 1], 0x44);
    });
  }

  for (const sub of ['dynamic', 'fixed']) {
    it(`writes ${sub} images qemu-img checks and compares equal`, async () => {
      const path = join(dir, `v-${sub}.vhdx`);
      const size = 12 * MiB + 1536;
      const store = await FileStore.open(path, { create: true });
      await vhdxFormat.create!(store, size, { options: { subformat: sub, block_size: '1M' } });
      const b = await vhdxFormat.open(store, {});
      const model = new Uint8Array(size);
      const rng = makeRng(sub === 'fixed' ? 11 : 12);
      for (let i = 0; i < 60; i++) {
        const len = 1 + rng(200_000);
        const off = rng(size - len);
        if (i % 7 === 6) {
          await b.writeZeroes(off, len);
          model.fill(0, off, off + len);
        } else {
          const data = new Uint8Array(len).map((_, k) => (k * 7 + i) & 0xff);
          await b.write(off, data);
          model.set(data, off);
        }
      }
      await b.discard(2 * MiB, 2 * MiB); // whole blocks change state (fixed: holes punched, or nothing)
      const discarded = new Uint8Array(2 * MiB);
      await b.read(2 * MiB, discarded);
      if (sub === 'dynamic') assert.ok(discarded.every((v) => v === 0));
      else assert.ok(discarded.every((v, k) => v === 0 || v === model[2 * MiB + k]));
      model.set(discarded, 2 * MiB);
      await b.close();
      const raw = join(dir, 'model.raw');
      writeFileSync(raw, model);
      qemuImg('check', '-f', 'vhdx', path);
      qemuImg('compare', '-f', 'vhdx', '-F', 'raw', path, raw);
      const info = JSON.parse(qemuImg('info', '--output=json', path)) as { 'virtual-size': number };
      assert.equal(info['virtual-size'], size);
      // And qemu-io can keep writing into our image, which we then read back.
      qemuIo(path, ['write -P 0x5a 5000000 70000']);
      model.fill(0x5a, 5000000, 5070000);
      assert.ok(Buffer.from(await readAll(path)).equals(Buffer.from(model)));
    });
  }

  it('agrees with qemu on the virtual size of unaligned and large images', async () => {
    for (const size of [1536, 3 * 1024 * MiB + 512]) {
      const path = join(dir, `s${size}.vhdx`);
      qemuImg('create', '-q', '-f', 'vhdx', path, String(size));
      const b = await vhdxFormat.open(await FileStore.open(path, { readOnly: true }), {});
      const info = JSON.parse(qemuImg('info', '--output=json', path)) as { 'virtual-size': number };
      assert.equal(b.size, info['virtual-size']);
      await b.close();
    }
  });
});
