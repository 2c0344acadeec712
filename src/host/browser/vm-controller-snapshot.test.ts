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
before(async () => {
  const k = sleepingKernel();
  server = createServer((req, res) => {
    if (req.url === '/Image') res.writeHead(200, { 'content-length': k.length }).end(k);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  kernelUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/Image`;
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
    return this.c.currentVm!.machine.opts.disks![i]!.backend;
  }
}

const bootConfig = { append: 'console=ttyS0', memoryMiB: 16, cpus: 1, disks: [] };

async function boot(files: FileDisk[]): Promise<Session> {
  const s = new Session();
  s.c.handle({ t: 'boot', config: { ...bootConfig, kernel: kernelUrl }, files });
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
