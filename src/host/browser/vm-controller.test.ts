import { after, before, test } from 'node:test';
import { fingerprintDisk } from '../../vmm/disk-identity.ts';
import { MemoryBackend } from '../../virtio/testing.ts';
import { makeTinySnapshot } from '../../vmm/tiny-snapshot.ts';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeSnapshot } from '../../vmm/snapshot-file.ts';
import type { WorkerMessage } from './protocol.ts';
import { OUTPUT_WINDOW, VmController } from './vm-controller.ts';
import { dbcnKernel } from '../../vmm/testing.ts';

/** Prints 2 MiB through the SBI console, then powers off. */
const LOUD_KERNEL = dbcnKernel(2);

let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/loud-kernel') res.writeHead(200, { 'content-length': LOUD_KERNEL.length }).end(LOUD_KERNEL);
    else if (req.url === '/junk-kernel')
      res
        .writeHead(200, { 'content-length': 64 })
        .end(Uint8Array.from('\x7fELF' + 'A'.repeat(60), (c) => c.charCodeAt(0)));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

/** Sends one message and collects what the controller posts until an error or a stop. */
function drive(msgs: Parameters<VmController['handle']>[0][]): Promise<WorkerMessage[]> {
  return new Promise((done) => {
    const got: WorkerMessage[] = [];
    const c = new VmController((m) => {
      got.push(m);
      if (m.t === 'error') {
        c.teardown();
        done(got);
      }
    });
    for (const m of msgs) c.handle(m);
  });
}

const cfg = (kernel: string) => ({ kernel, append: 'console=ttyS0', memoryMiB: 64, cpus: 1, disks: [] });

test('a missing kernel becomes an error message after the download phase', async () => {
  const got = await drive([{ t: 'boot', config: cfg(`${base}/nope`), files: [] }]);
  assert.deepEqual(got[0], { t: 'phase', phase: 'downloading' });
  assert.match((got.at(-1) as { message: string }).message, /kernel URL .*\/nope: not found \(HTTP 404/);
});

test("a kernel that is no kernel is refused with the board's reason", async () => {
  const got = await drive([{ t: 'boot', config: cfg(`${base}/junk-kernel`), files: [] }]);
  assert.match((got.at(-1) as { message: string }).message, /cannot boot: kernel ELF: unknown ELF class 65/);
  assert.ok(got.some((m) => m.t === 'progress' && m.loaded === 64 && m.total === 64));
});

test('a URL disk that is not there names the disk', async () => {
  const got = await drive([
    {
      t: 'boot',
      config: { ...cfg(`${base}/junk-kernel`), disks: [{ url: `${base}/disk.qcow2`, writable: false }] },
      files: [],
    },
  ]);
  assert.match((got.at(-1) as { message: string }).message, /disk .*\/disk\.qcow2: not found \(HTTP 404\)/);
});

test('bad snapshots are refused with a reason: garbage, a future version, a foreign configuration', async () => {
  const restore = async (bytes: Uint8Array) =>
    ((await drive([{ t: 'restore', bytes, name: 'x.snap', files: [] }])).at(-1) as { message: string }).message;
  assert.match(await restore(new Uint8Array(100)), /cannot restore x\.snap: not a virtkit snapshot/);
  const future = encodeSnapshot({}, new Uint8Array(4096));
  new DataView(future.buffer).setUint32(8, 99, true);
  assert.match(await restore(future), /snapshot format version 99 is not supported/);
  // A real machine state (its sizes are checked before the configuration is looked at).
  const foreign = makeTinySnapshot({ config: { something: 1 } });
  assert.match(await restore(foreign), /holds no virtkit VM configuration/);
  // `virtkit run`'s configuration is read as the CLI reads it: a malformed field is named.
  const malformed = makeTinySnapshot({ config: { disks: [{ path: 'a.img', readOnly: 'yes' }], append: '' } });
  assert.match(await restore(malformed), /meta\.config\.disks\[0\]\.readOnly/);
});

test('a snapshot that needs a disk file the page does not have asks for it', async () => {
  const snap = makeTinySnapshot({
    config: { disks: [{ path: '/home/me/data.qcow2', readOnly: false }], append: '' },
    disk: true,
  });
  const got = await drive([{ t: 'restore', bytes: snap, name: 'n.snap', files: [] }]);
  assert.match((got.at(-1) as { message: string }).message, /saved with the disk file 'data\.qcow2' attached/);
});

test('the power button with no VM says nothing was pressed', async () => {
  const got = await drive([{ t: 'power-button' }]);
  assert.match((got.at(-1) as { message: string }).message, /nothing pressed/);
});

test('saving with no VM says so', async () => {
  const got = await drive([{ t: 'save' }]);
  assert.match((got.at(-1) as { message: string }).message, /nothing to save/);
});

test('output the page has not shown holds the guest once past the window, and flows again on acks', async () => {
  let posted = 0;
  let acking = false;
  let heldAt: number | undefined;
  let finish!: (reason: string) => void;
  const stopped = new Promise<string>((r) => (finish = r));
  let crossed!: () => void;
  const pastWindow = new Promise<void>((r) => (crossed = r));
  const c = new VmController((m) => {
    if (m.t === 'output') {
      posted += m.data.length;
      if (acking) c.handle({ t: 'output-ack', bytes: m.data.length });
      else if (posted >= OUTPUT_WINDOW && heldAt === undefined) {
        heldAt = posted;
        crossed();
      }
    } else if (m.t === 'stopped') finish(m.reason);
  });
  c.handle({ t: 'boot', config: cfg(`${base}/loud-kernel`), files: [] });
  // The page (this test) acknowledges nothing at first: past the window the guest's output is held.
  await pastWindow;
  assert.equal(c.currentVm?.outputHeld, true, 'held once the page is a window behind');
  c.handle({ t: 'output-ack', bytes: OUTPUT_WINDOW / 4 });
  assert.equal(c.currentVm?.outputHeld, true, 'still more than half a window behind');
  // The page shows it all: the rest flows and the guest finishes.
  acking = true;
  c.handle({ t: 'output-ack', bytes: posted });
  assert.equal(c.currentVm?.outputHeld, false);
  assert.equal(await stopped, 'the guest powered off');
  assert.equal(posted, 2 * 1024 * 1024);
  c.teardown();
});

test('a picked file that is not the disk a `virtkit run` snapshot recorded is refused by name', async () => {
  const zeros = new MemoryBackend(1 << 20);
  const identity = await fingerprintDisk(zeros);
  const snap = makeTinySnapshot({
    config: { version: 3, disks: [{ path: '/home/me/d.img', format: 'raw', readOnly: true, identity }], append: '' },
    disk: true,
  });
  const other = new Uint8Array(1 << 20);
  other[4096] = 1;
  const got = await drive([
    { t: 'restore', bytes: snap, name: 'n.snap', files: [{ file: new File([other], 'd.img'), writable: false }] },
  ]);
  assert.match(
    (got.at(-1) as { message: string }).message,
    /disk file d\.img is not the snapshot's disk: its contents differ/,
  );
});
