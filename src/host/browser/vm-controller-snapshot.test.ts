/**
 * Snapshots of VMs with writable disks: the changes a guest made in the tab (held in the
 * copy-on-write overlay) travel in the snapshot and come back on restore. The guest is a tiny
 * kernel that sleeps in WFI; the test writes to the disk through the board's backend, as
 * virtio-blk does for a guest.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeSnapshot, encodeSnapshot } from '../../vmm/snapshot-file.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { qcow2Format } from '../../storage/qcow2/format.ts';
import type { BlockBackend } from '../../storage/types.ts';
import type { BootConfig } from './guest-config.ts';
import type { FileDisk, WorkerMessage } from './protocol.ts';
import { VmController, type SnapshotConfig } from './vm-controller.ts';

/** A RISC-V Linux Image whose code is `wfi; j .-4` (the two header words are executed first). */
function sleepingKernel(): Uint8Array {
  const img = new Uint8Array(64);
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x10500073, true); // wfi
  dv.setUint32(4, 0xffdff06f, true); // j -4
  dv.setUint32(8, 0x200000, true); // text_offset
  dv.setUint32(16, img.length, true); // image_size
  dv.setUint32(56, 0x05435352, true); // "RSC\x05"
  return img;
}

let server: Server;
let kernelUrl: string;
let diskUrl: string;
/** The served URL disk: its bytes and the validators the server gives (a test changes them). */
const served: { bytes: Uint8Array; headers: Record<string, string> } = { bytes: new Uint8Array(0), headers: {} };
before(async () => {
  const k = sleepingKernel();
  server = createServer((req, res) => {
    if (req.url === '/Image') res.writeHead(200, { 'content-length': k.length }).end(k);
    else if (req.url === '/disk.img') {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const size = served.bytes.length;
      if (!m) res.writeHead(200, served.headers).end(served.bytes);
      else {
        const end = Math.min(Number(m[2]), size - 1);
        res
          .writeHead(206, { ...served.headers, 'content-range': `bytes ${m[1]}-${end}/${size}` })
          .end(served.bytes.subarray(Number(m[1]), end + 1));
      }
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  kernelUrl = `${base}/Image`;
  diskUrl = `${base}/disk.img`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

/** A controller and everything it posted, with a way to wait for a message. */
class Session {
  readonly got: WorkerMessage[] = [];
  private waiters: (() => void)[] = [];
  readonly c = new VmController((m) => {
    this.got.push(m);
    for (const w of this.waiters.splice(0)) w();
  });

  wait<T extends WorkerMessage>(pred: (m: WorkerMessage) => m is T, from = 0): Promise<T> {
    return new Promise((ok, ko) => {
      const check = () => {
        const hit = this.got.slice(from).find(pred);
        const err = this.got.find((m) => m.t === 'error');
        if (hit) ok(hit);
        else if (err) ko(new Error(`controller error: ${(err as { message: string }).message}`));
        else this.waiters.push(check);
      };
      check();
    });
  }

  running(from = 0) {
    return this.wait((m): m is WorkerMessage => m.t === 'phase' && m.phase === 'running', from);
  }

  async snapshot(): Promise<Uint8Array> {
    const from = this.got.length;
    this.c.handle({ t: 'save' });
    return (await this.wait((m): m is Extract<WorkerMessage, { t: 'snapshot' }> => m.t === 'snapshot', from)).bytes;
  }

  disk(i: number): BlockBackend {
    return this.c.currentVm!.disks[i]!.backend;
  }
}

const bootConfig = { append: 'console=ttyS0', memoryMiB: 16, cpus: 1, disks: [] };

async function boot(files: FileDisk[], disks: BootConfig['disks'] = []): Promise<Session> {
  const s = new Session();
  s.c.handle({ t: 'boot', config: { ...bootConfig, kernel: kernelUrl, disks }, files });
  await s.running();
  return s;
}

async function restore(bytes: Uint8Array, files: FileDisk[]): Promise<Session> {
  const s = new Session();
  s.c.handle({ t: 'restore', bytes, name: 't.snap', files });
  await s.running();
  return s;
}

async function readDisk(b: BlockBackend, offset: number, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  await b.read(offset, buf);
  return buf;
}

function configOf(snap: Uint8Array): SnapshotConfig {
  return (decodeSnapshot(snap).state as { meta: { config: SnapshotConfig } }).meta.config;
}

/** The same snapshot with its configuration replaced (RAM and machine state kept). */
function withConfig(snap: Uint8Array, config: unknown): Uint8Array {
  const d = decodeSnapshot(snap);
  const ram = new Uint8Array(d.ramSize);
  d.restoreRam(ram);
  const state = d.state as { meta: { config: unknown } };
  return encodeSnapshot({ ...state, meta: { ...state.meta, config } }, ram);
}

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + 1) & 0xff);
const MARK = new TextEncoder().encode('WRITTEN-IN-THE-TAB');

test("a writable file disk's changes come back with the snapshot, and only through it", async () => {
  const file = new File([pattern(65_536)], 'data.img');
  const a = await boot([{ file, writable: true }]);
  await a.disk(0).write(12_288, MARK);
  const snap = await a.snapshot();
  a.c.teardown();

  const cfg = configOf(snap);
  // `virtkit run` cannot reopen a page's disks: the snapshot has no `disks` field for it to try.
  assert.equal(cfg.disks, undefined);
  assert.equal(cfg.web?.disks[0]?.overlay?.format, 1);

  const b = await restore(snap, [{ file, writable: false }]);
  assert.deepEqual(await readDisk(b.disk(0), 12_288, MARK.length), MARK);
  assert.deepEqual(await readDisk(b.disk(0), 0, 12_288), pattern(65_536).subarray(0, 12_288));
  // Saved again after the restore, the changes are still carried.
  const again = await b.snapshot();
  b.c.teardown();
  assert.equal(configOf(again).web?.disks[0]?.overlay?.blocks, cfg.web?.disks[0]?.overlay?.blocks);

  // A snapshot without the record (as older pages wrote them) restores the disk as the file has it.
  const { overlay: _, ...plain } = cfg.web!.disks[0]!;
  const old = await restore(withConfig(snap, { ...cfg, web: { disks: [plain] } }), [{ file, writable: false }]);
  assert.deepEqual(
    await readDisk(old.disk(0), 12_288, MARK.length),
    pattern(65_536).subarray(12_288, 12_288 + MARK.length),
  );
  old.c.teardown();
});

test('a qcow2 disk whose guest allocated new clusters restores with its metadata', async () => {
  const store = new MemoryStore('q');
  await qcow2Format.create!(store, 8 << 20, { options: {} });
  const image = new Uint8Array(await store.size());
  await store.read(0, image);
  const file = new File([image], 'disk.qcow2');
  const a = await boot([{ file, writable: true }]);
  await a.disk(0).write(5 << 20, MARK); // a fresh cluster: new L2 table and refcounts
  const snap = await a.snapshot();
  a.c.teardown();
  const b = await restore(snap, [{ file, writable: true }]);
  assert.deepEqual(await readDisk(b.disk(0), 5 << 20, MARK.length), MARK);
  assert.deepEqual(await readDisk(b.disk(0), 4 << 20, 64), new Uint8Array(64));
  b.c.teardown();
});

test('a diskless snapshot keeps the empty disk list virtkit run restores', async () => {
  const a = await boot([]);
  const snap = await a.snapshot();
  a.c.teardown();
  assert.deepEqual(configOf(snap).disks, []);
});

test('pausing while a snapshot is taken leaves the VM paused; otherwise it runs on', async () => {
  const a = await boot([]);
  await a.snapshot();
  assert.equal(a.c.currentVm!.running, true);
  const saving = a.snapshot();
  a.c.handle({ t: 'pause' });
  await saving;
  assert.equal(a.c.currentVm!.running, false);
  assert.deepEqual(a.got.at(-2), { t: 'phase', phase: 'paused' });
  a.c.teardown();
});

test('damaged or mismatched saved disk changes are refused with the disk named', async () => {
  const file = new File([pattern(65_536)], 'data.img');
  const a = await boot([{ file, writable: true }]);
  await a.disk(0).write(0, MARK);
  const snap = await a.snapshot();
  a.c.teardown();
  const cfg = configOf(snap);
  const ref = cfg.web!.disks[0]!;
  const failure = async (bytes: Uint8Array, files: FileDisk[]) => {
    const s = new Session();
    s.c.handle({ t: 'restore', bytes, name: 't.snap', files });
    await assert.rejects(s.running(), (e: Error) => {
      assert.match(e.message, /^controller error: cannot restore t\.snap: disk file data\.img[: ]/);
      return true;
    });
    s.c.teardown();
    return (s.got.find((m) => m.t === 'error') as { message: string }).message;
  };
  const corrupt = withConfig(snap, { ...cfg, web: { disks: [{ ...ref, overlay: { ...ref.overlay, data: 'AAAA' } }] } });
  assert.match(await failure(corrupt, [{ file, writable: false }]), /saved disk changes are damaged/);
  const future = withConfig(snap, { ...cfg, web: { disks: [{ ...ref, overlay: { ...ref.overlay, format: 7 } }] } });
  assert.match(await failure(future, [{ file, writable: false }]), /use format 7; this page reads format 1/);
  // Same name, other size: caught before the changes are applied.
  const other = new File([pattern(4096)], 'data.img');
  assert.match(await failure(snap, [{ file: other, writable: false }]), /4096 bytes, the snapshot's was 65536/);
});

/** Restores `bytes` expecting a failure; returns the error the page would show. */
async function restoreError(bytes: Uint8Array, files: FileDisk[] = []): Promise<string> {
  const s = new Session();
  s.c.handle({ t: 'restore', bytes, name: 't.snap', files });
  await assert.rejects(s.running(), /controller error/);
  s.c.teardown();
  return (s.got.find((m) => m.t === 'error') as { message: string }).message;
}

test("a URL disk's server version is recorded, and a restore over a changed file is refused naming it", async () => {
  served.bytes = pattern(65_536);
  served.headers = { etag: '"v1"', 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' };
  const a = await boot([], [{ url: diskUrl, writable: true }]);
  await a.disk(0).write(4096, MARK);
  const snap = await a.snapshot();
  a.c.teardown();
  const ref = configOf(snap).web!.disks[0]!;
  assert.equal(ref.size, 65_536);
  assert.deepEqual(ref.validator, { format: 1, etag: '"v1"', lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT' });

  // Unchanged (even if the server weakens the tag): the guest's changes come back.
  served.headers = { ...served.headers, etag: 'W/"v1"' };
  const b = await restore(snap, []);
  assert.deepEqual(await readDisk(b.disk(0), 4096, MARK.length), MARK);
  b.c.teardown();

  // Replaced by a file of the same size: refused, with the disk's URL in the message.
  served.bytes = pattern(65_537).subarray(1);
  served.headers = { etag: '"v2"', 'last-modified': 'Tue, 01 Dec 2026 11:00:00 GMT' };
  const changed = await restoreError(snap);
  assert.ok(changed.startsWith(`cannot restore t.snap: disk ${diskUrl}: the file changed on the server`), changed);
  assert.match(changed, /ETag "v1", now "v2"/);

  // Only Last-Modified on the server now: the dates decide.
  served.headers = { 'last-modified': 'Tue, 01 Dec 2026 11:00:00 GMT' };
  assert.match(await restoreError(snap), /modified Tue, 01 Dec 2026 10:00:00 GMT, now Tue, 01 Dec 2026 11:00:00 GMT/);

  // No validator from the server: size only, as before validators were recorded.
  served.headers = {};
  const c = await restore(snap, []);
  assert.deepEqual(await readDisk(c.disk(0), 4096, MARK.length), MARK);
  c.c.teardown();

  // An older snapshot (no validator, no size) still restores over the changed file.
  served.headers = { etag: '"v2"' };
  const cfg = configOf(snap);
  const { validator: _, size: __, ...plain } = ref;
  const old = await restore(withConfig(snap, { ...cfg, web: { disks: [plain] } }), []);
  assert.deepEqual(await readDisk(old.disk(0), 4096, MARK.length), MARK);
  // Saved again, it records the file the server has now.
  const again = await old.snapshot();
  old.c.teardown();
  assert.deepEqual(configOf(again).web!.disks[0]!.validator, { format: 1, etag: '"v2"' });

  // A damaged or future record is refused by name; another size is caught too.
  const future = withConfig(snap, { ...cfg, web: { disks: [{ ...ref, validator: { format: 9 } }] } });
  assert.match(
    await restoreError(future),
    /disk .*disk\.img: this disk: the snapshot's record of the disk's version uses format 9/,
  );
  served.bytes = pattern(4096);
  assert.match(await restoreError(snap), /disk .*disk\.img: it is 4096 bytes, the snapshot's was 65536/);
});

test('a URL disk replaced while the guest runs fails its reads instead of mixing two files', async () => {
  served.bytes = pattern(262_144);
  served.headers = { etag: '"v1"' };
  const a = await boot([], [{ url: diskUrl, writable: false }]);
  served.headers = { etag: '"v2"' };
  // A block nobody read yet (opening the disk reads its first and last 64 KiB blocks to probe the
  // format, and those come from the cache).
  await assert.rejects(
    readDisk(a.disk(0), 100_000, 16),
    /the file changed on the server since it was opened \(ETag "v1", now "v2"\)/,
  );
  a.c.teardown();
});
