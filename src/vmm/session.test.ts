import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VmSession } from './session.ts';
import { VM_SPEC_VERSION, VmSpecError, validateVmSpec, type VmSpec } from './vm-spec.ts';
import { dbcnKernel, printKernel } from './testing.ts';
import { MemoryBackend } from '../virtio/testing.ts';
import type { VmHost } from './vm.ts';
import { nodeVmHost } from '../host/node/vm-host.ts';

const host: VmHost = nodeVmHost;

const spec = (kernel: Uint8Array, more: Partial<VmSpec> = {}): VmSpec => ({
  version: VM_SPEC_VERSION,
  memoryBytes: 16 * 1024 * 1024,
  cpus: 1,
  boot: { kernel },
  append: 'console=ttyS0',
  disks: [],
  nics: [],
  translate: false,
  ...more,
});

test('a bad spec is refused with the field named', () => {
  const k = printKernel('x');
  const bad = (s: unknown, field: string) =>
    assert.throws(
      () => validateVmSpec(s),
      (e: unknown) => e instanceof VmSpecError && e.field === field && e.message.startsWith(`VM spec: ${field}: `),
    );
  bad({ ...spec(k), version: 2 }, 'version');
  bad({ ...spec(k), cpus: 9 }, 'cpus');
  bad({ ...spec(k), memoryBytes: 17 * 1024 * 1024 + 1 }, 'memoryBytes');
  bad({ ...spec(k), boot: {} }, 'boot');
  bad({ ...spec(k), boot: { firmware: k, initrd: k } }, 'boot.initrd');
  bad({ ...spec(k), boot: { kernel: new Uint8Array(0) } }, 'boot.kernel');
  bad({ ...spec(k), append: 7 }, 'append');
  const backend = new MemoryBackend(1 << 20);
  bad({ ...spec(k), disks: [{ backend, readOnly: 'no', source: 'd' }] }, 'disks[0].readOnly');
  bad({ ...spec(k), disks: [{ backend: {}, readOnly: false, source: 'd' }] }, 'disks[0].backend');
  bad({ ...spec(k), nics: [{ backend: { transmit() {}, connect() {} }, mac: new Uint8Array(5) }] }, 'nics[0].mac');
  const seven = Array.from({ length: 7 }, () => ({ backend, readOnly: true, source: 'd' }));
  bad({ ...spec(k), disks: seven }, 'disks');
  assert.doesNotThrow(() => validateVmSpec(spec(k)));
});

test('a session sees the prompt once, reports stats, and tells when the guest is idle', async () => {
  const prompts: { instret: number }[] = [];
  let out = '';
  const s = VmSession.boot(spec(printKernel('boot\nroot@virtkit:/# ')), host, {
    output: (b) => (out += new TextDecoder().decode(b)),
    stopped: () => {},
    firstPrompt: (p) => prompts.push(p),
  });
  s.start();
  while (!s.idle || !s.atPrompt) await new Promise((r) => setTimeout(r, 5));
  assert.equal(out, 'boot\nroot@virtkit:/# ');
  assert.equal(prompts.length, 1);
  assert.ok(prompts[0]!.instret > 0);
  const st = s.stats();
  assert.ok(st.instret >= prompts[0]!.instret && st.seconds >= 0 && st.mips >= 0);
  assert.equal(s.memoryBytes, 16 * 1024 * 1024);
  s.stop();
});

test('a stop is reported with its one text', async () => {
  const stopped = await new Promise<string>((done) => {
    const s = VmSession.boot(spec(dbcnKernel(1)), host, { output: () => {}, stopped: (_r, text) => done(text) });
    s.start();
  });
  assert.equal(stopped, 'the guest powered off');
});

test('save keeps the VM paused when pause() comes mid-save, and restores with the same config', async () => {
  const backend = new MemoryBackend(1 << 20);
  let flushed = 0;
  const flush = backend.flush.bind(backend);
  backend.flush = () => (flushed++, flush());
  const s = VmSession.boot(
    spec(printKernel('# '), { disks: [{ backend, readOnly: false, source: 'mem' }] }),
    host,
    { output: () => {}, stopped: () => {} },
  );
  s.start();
  while (!s.atPrompt) await new Promise((r) => setTimeout(r, 5));
  const saving = s.save(() => ({ tag: 'cfg' }));
  assert.equal(s.isSaving, true);
  assert.equal(s.pause(), true);
  const bytes = await saving;
  assert.equal(flushed, 1, 'a writable disk is flushed before saving');
  assert.equal(s.running, false, 'stays paused: pause() came mid-save');
  const again = s.save(() => ({}));
  await assert.rejects(s.save(() => ({})), /already being saved/);
  await again;
  s.stop();
  assert.equal(await s.closeDisks(true), undefined);

  let seen: unknown;
  const r = await VmSession.restore(
    bytes,
    async (config) => {
      seen = config;
      return { disks: [{ backend: new MemoryBackend(1 << 20), readOnly: false, source: 'mem' }], nics: [] };
    },
    host,
    { output: () => {}, stopped: () => {} },
  );
  assert.deepEqual(seen, { tag: 'cfg' });
  assert.equal(r.disks.length, 1);
  r.stop();
});

test('pressPowerButton is false without a guest driver for the button and once the VM stopped', async () => {
  let done!: () => void;
  const stopped = new Promise<void>((r) => (done = r));
  const s = VmSession.boot(spec(dbcnKernel(1)), host, { output: () => {}, stopped: () => done() });
  assert.equal(s.pressPowerButton(), false, 'the guest has no virtio-input driver');
  s.start();
  await stopped;
  assert.equal(s.pressPowerButton(), false);
});
