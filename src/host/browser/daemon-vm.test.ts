/**
 * The tab's side of a VM moved from `virtkit daemon`: the controller continues a `virtkit
 * run`-style snapshot (a disk and a NIC) with the disk behind a fake daemon speaking the block
 * protocol, the guest's writes reach the daemon's disk, a disk that is not the snapshot's is
 * refused before the guest runs, and the snapshot that sends it back is in `virtkit run`'s form
 * with the disk's identity as it is now. The guest is a tiny kernel that sleeps in WFI; the test
 * writes through the board's backend, as virtio-blk does for a guest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSnapshot } from '../../vmm/snapshot-file.ts';
import { fingerprintDisk } from '../../vmm/disk-identity.ts';
import { buildSavedConfig } from '../../vmm/saved-config.ts';
import { VmSession } from '../../vmm/session.ts';
import { VM_SPEC_VERSION } from '../../vmm/vm-spec.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { openImage } from '../../storage/open.ts';
import type { BlockBackend } from '../../storage/types.ts';
import { VmController } from './vm-controller.ts';
import type { WorkerMessage } from './protocol.ts';
import type { RemoteVm } from './daemon-vm.ts';
import { BLOCK_MAX, RemoteDisk, type RemoteFetch } from './remote-disk.ts';
import { UnpluggedNic } from './unplugged-nic.ts';
import { createWorkerHost } from './worker-host.ts';

/** A RISC-V Linux Image whose code is `wfi; j .-4` (the two header words are executed first). */
function sleepingKernel(): Uint8Array {
  const img = new Uint8Array(64);
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x10500073, true);
  dv.setUint32(4, 0xffdff06f, true);
  dv.setUint32(8, 0x200000, true);
  dv.setUint32(16, img.length, true);
  dv.setUint32(56, 0x05435352, true);
  return img;
}

const DISK = 4 << 20;
const SESSION = 'ab'.repeat(16);

async function memoryDisk(): Promise<BlockBackend> {
  const store = new MemoryStore('daemon-disk');
  await store.truncate(DISK);
  return openImage(store, { format: 'raw' });
}

/** The daemon's block routes over `disk` (src/manager/browser-move.ts, in miniature), logging requests. */
function fakeDaemon(disk: BlockBackend, log: string[]): RemoteFetch {
  const answer = (status: number, body: Uint8Array | string = '') => ({
    status,
    ok: status < 300,
    arrayBuffer: async () => (typeof body === 'string' ? new TextEncoder().encode(body) : body).slice().buffer,
    text: async () => (typeof body === 'string' ? body : ''),
  });
  return async (url, init) => {
    const u = new URL(url);
    log.push(`${init.method} ${u.pathname}${u.search}`);
    if (init.headers['x-virtkit-session'] !== SESSION) return answer(409, '{"error":{"message":"another session"}}');
    const off = Number(u.searchParams.get('offset'));
    if (init.method === 'GET') {
      const buf = new Uint8Array(Number(u.searchParams.get('length')));
      await disk.read(off, buf);
      return answer(200, buf);
    }
    if (init.method === 'PUT') await disk.write(off, init.body as Uint8Array);
    else if (u.pathname.endsWith('/flush')) await disk.flush();
    else if (u.pathname.endsWith('/zero')) {
      const b = JSON.parse(init.body as string) as { offset: number; length: number };
      await disk.writeZeroes(b.offset, b.length);
    }
    return answer(204);
  };
}

/** A snapshot as `virtkit run` writes it for the move: one disk (its identity), one NIC, a boot record. */
async function daemonSnapshot(disk: BlockBackend): Promise<Uint8Array> {
  const host = createWorkerHost();
  const vm = VmSession.boot(
    {
      version: VM_SPEC_VERSION,
      memoryBytes: 16 << 20,
      cpus: 1,
      boot: { kernel: sleepingKernel() },
      append: 'console=ttyS0',
      disks: [{ backend: disk, readOnly: false, source: 'disk0.qcow2' }],
      nics: [{ backend: new UnpluggedNic() }],
    },
    host,
    { output: () => {}, stopped: () => {} },
  );
  vm.start();
  const bytes = await vm.save(async () =>
    buildSavedConfig({
      append: 'console=ttyS0',
      nets: ['user,hostfwd=tcp::2222-:22'],
      boot: { kind: 'record from the daemon' },
      disks: [
        {
          path: '/state/vms/x/disk0.qcow2',
          format: 'qcow2',
          readOnly: false, // The daemon's disk is a qcow2 it decodes itself; here a raw one stands in for it.
          identity: { ...(await fingerprintDisk(disk)), format: 'qcow2' },
        },
      ],
    }),
  );
  vm.stop();
  host.close();
  return bytes;
}

class Tab {
  readonly got: WorkerMessage[] = [];
  private waiters: (() => void)[] = [];
  readonly c: VmController;

  constructor(fetch: RemoteFetch) {
    this.c = new VmController(
      (m) => {
        this.got.push(m);
        for (const w of this.waiters.splice(0)) w();
      },
      { fetch: fetch as never },
    );
  }

  wait<T extends WorkerMessage>(pred: (m: WorkerMessage) => m is T): Promise<T> {
    return new Promise((ok) => {
      const check = () => {
        const hit = this.got.find(pred);
        if (hit) ok(hit);
        else this.waiters.push(check);
      };
      check();
    });
  }
}

const remote = (disk: BlockBackend, format = 'qcow2'): RemoteVm => ({
  base: 'http://daemon.test/v1/vms/x/browser',
  token: 't',
  session: SESSION,
  disks: [{ index: 0, size: disk.size, format, readonly: false }],
});

test('a VM from the daemon runs on in the tab with its disk through the daemon, and goes back in run form', async () => {
  const disk = await memoryDisk();
  await disk.write(0, new TextEncoder().encode('written-before-the-move'));
  const snap = await daemonSnapshot(disk);
  const log: string[] = [];
  const tab = new Tab(fakeDaemon(disk, log));
  tab.c.handle({ t: 'adopt', bytes: snap, remote: remote(disk) });
  const first = await tab.wait(
    (m): m is WorkerMessage => (m.t === 'phase' && m.phase === 'running') || m.t === 'error',
  );
  assert.deepEqual(first, { t: 'phase', phase: 'running' });
  assert.ok(
    log.some((l) => l.startsWith('GET /v1/vms/x/browser/disks/0?offset=0&length=')),
    'identity read through the daemon',
  );

  // A guest write (larger than one request) goes to the daemon's disk, split at BLOCK_MAX.
  const tabDisk = tab.c.currentVm!.disks[0]!.backend;
  assert.ok(tabDisk instanceof RemoteDisk);
  assert.equal(tabDisk.format, 'qcow2', "the daemon's format: identities match");
  const big = new Uint8Array(BLOCK_MAX + 4096).fill(0x5a);
  log.length = 0;
  await tabDisk.write(65_536, big);
  assert.deepEqual(log, [
    `PUT /v1/vms/x/browser/disks/0?offset=65536`,
    `PUT /v1/vms/x/browser/disks/0?offset=${65_536 + BLOCK_MAX}`,
  ]);
  const check = new Uint8Array(big.length);
  await disk.read(65_536, check);
  assert.deepEqual(check, big);
  await tabDisk.writeZeroes(65_536, 512);
  await disk.read(65_536, check.subarray(0, 512));
  assert.ok(check.subarray(0, 512).every((b) => b === 0));
  await assert.rejects(tabDisk.read(DISK - 100, new Uint8Array(512)), /past its end/);

  // Send back: paused for good, the snapshot in `virtkit run`'s form, the disk's identity as now.
  tab.c.handle({ t: 'send-back' });
  const leave = await tab.wait((m): m is Extract<WorkerMessage, { t: 'leave' }> => m.t === 'leave');
  assert.equal(leave.wasRunning, true);
  assert.equal(tab.c.currentVm!.phase, 'paused');
  assert.ok(log.includes('POST /v1/vms/x/browser/disks/0/flush'), 'the disk flushed to the daemon first');
  const cfg = (decodeSnapshot(leave.bytes).state as { meta: { config: Record<string, unknown> } }).meta.config;
  assert.deepEqual(cfg['nets'], ['user,hostfwd=tcp::2222-:22']);
  assert.deepEqual(cfg['boot'], { kind: 'record from the daemon' });
  assert.equal(cfg['web'], undefined);
  const disks = cfg['disks'] as { path: string; format: string; identity: unknown }[];
  assert.equal(disks[0]!.path, '/state/vms/x/disk0.qcow2');
  assert.deepEqual(disks[0]!.identity, { ...(await fingerprintDisk(disk)), format: 'qcow2' });
  tab.c.teardown();
});

test("a disk that is not the snapshot's, or a session the daemon does not know, is refused before the guest runs", async () => {
  const disk = await memoryDisk();
  const snap = await daemonSnapshot(disk);
  await disk.write(0, new TextEncoder().encode('changed after the snapshot'));
  const tab = new Tab(fakeDaemon(disk, []));
  tab.c.handle({ t: 'adopt', bytes: snap, remote: remote(disk) });
  const err = await tab.wait((m): m is Extract<WorkerMessage, { t: 'error' }> => m.t === 'error');
  assert.match(
    err.message,
    /cannot continue the VM from the daemon: disk 0 \(\/state\/vms\/x\/disk0\.qcow2\) is not the snapshot's disk: its contents differ/,
  );

  const other = new Tab(fakeDaemon(disk, []));
  other.c.handle({ t: 'adopt', bytes: snap, remote: { ...remote(disk), session: 'cd'.repeat(16) } });
  const refused = await other.wait((m): m is Extract<WorkerMessage, { t: 'error' }> => m.t === 'error');
  assert.match(refused.message, /the daemon refused \(HTTP 409\): another session/);

  const raw = new Tab(fakeDaemon(disk, []));
  raw.c.handle({ t: 'adopt', bytes: snap, remote: remote(disk, 'raw') });
  const format = await raw.wait((m): m is Extract<WorkerMessage, { t: 'error' }> => m.t === 'error');
  assert.match(format.message, /its format is "raw", the snapshot's disk was "qcow2"/);

  const none = new Tab(fakeDaemon(disk, []));
  none.c.handle({ t: 'send-back' });
  const nothing = await none.wait((m): m is Extract<WorkerMessage, { t: 'error' }> => m.t === 'error');
  assert.match(nothing.message, /nothing to send back/);
});
