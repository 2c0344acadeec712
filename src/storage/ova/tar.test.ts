import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryStore } from '../memory-store.ts';
import { readTar, TarWriter } from './tar.ts';

async function read(store: MemoryStore, name: string): Promise<string> {
  const e = (await readTar(store)).find((x) => x.name === name)!;
  const b = new Uint8Array(e.size);
  await store.read(e.offset, b);
  return new TextDecoder().decode(b);
}

describe('tar', () => {
  it('writes archives GNU tar lists and extracts, in order', async () => {
    const store = new MemoryStore('t.tar');
    const w = new TarWriter(store);
    await w.add('a.ovf', new TextEncoder().encode('<Envelope/>'));
    await w.add('a.mf', new TextEncoder().encode('x'.repeat(512)));
    await w.add('disk1.vmdk', new Uint8Array(1000).fill(7));
    await w.end();
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-tar-'));
    try {
      writeFileSync(join(dir, 't.tar'), store.bytes());
      assert.equal(execFileSync('tar', ['tf', join(dir, 't.tar')], { encoding: 'utf8' }), 'a.ovf\na.mf\ndisk1.vmdk\n');
      execFileSync('tar', ['xf', 't.tar'], { cwd: dir });
      assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'disk1.vmdk'))), new Uint8Array(1000).fill(7));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(
      (await readTar(store)).map((e) => [e.name, e.size]),
      [
        ['a.ovf', 11],
        ['a.mf', 512],
        ['disk1.vmdk', 1000],
      ],
    );
  });

  it('reads what GNU tar writes, including long names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtkit-tar-'));
    try {
      const long = 'n'.repeat(120) + '.vmdk';
      writeFileSync(join(dir, 'vm.ovf'), 'descriptor');
      writeFileSync(join(dir, long), 'disk data');
      for (const fmt of ['gnu', 'pax', 'ustar']) {
        const files = fmt === 'ustar' ? ['vm.ovf'] : ['vm.ovf', long];
        execFileSync('tar', ['cf', 'x.tar', `--format=${fmt}`, ...files], { cwd: dir });
        const store = new MemoryStore('x.tar', new Uint8Array(readFileSync(join(dir, 'x.tar'))));
        assert.deepEqual(
          (await readTar(store)).map((e) => e.name),
          files,
          fmt,
        );
        assert.equal(await read(store, 'vm.ovf'), 'descriptor');
        if (fmt !== 'ustar') assert.equal(await read(store, long), 'disk data');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports truncation and damaged headers', async () => {
    const store = new MemoryStore('t.tar');
    const w = new TarWriter(store);
    await w.add('a.ovf', new Uint8Array(100));
    await w.add('disk.vmdk', new Uint8Array(5000));
    await w.end();
    const bytes = store.bytes();
    await assert.rejects(readTar(new MemoryStore('t', bytes.slice(0, 3000))), {
      code: 'corrupt',
      message: /'disk\.vmdk' is truncated/,
    });
    await assert.rejects(readTar(new MemoryStore('t', bytes.slice(0, 1024 + 200))), {
      code: 'corrupt',
      message: /truncated header/,
    });
    const bad = bytes.slice();
    bad[5] ^= 1;
    await assert.rejects(readTar(new MemoryStore('t', bad)), { code: 'corrupt', message: /checksum/ });
    const badSize = bytes.slice();
    badSize.set(new TextEncoder().encode('9999'), 124);
    await assert.rejects(readTar(new MemoryStore('t', badSize)), { code: 'corrupt' });
  });
});
