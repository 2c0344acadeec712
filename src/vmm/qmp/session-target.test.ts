/** The QMP adapter over a real VmSession running tiny kernels (src/vmm/testing.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VmSession } from '../session.ts';
import { VM_SPEC_VERSION } from '../vm-spec.ts';
import { dbcnKernel, printKernel } from '../testing.ts';
import type { VmHost } from '../vm.ts';
import { SessionQmpTarget } from './session-target.ts';
import { qmpVersion } from './target.ts';
import { nodeVmHost } from '../../host/node/vm-host.ts';

const host: VmHost = nodeVmHost;

function boot(kernel: Uint8Array) {
  let out = '';
  let quits = 0;
  let stopped: (() => void) | undefined;
  const whenStopped = new Promise<void>((r) => (stopped = r));
  const session = VmSession.boot(
    {
      version: VM_SPEC_VERSION,
      memoryBytes: 16 << 20,
      cpus: 1,
      boot: { kernel },
      append: '',
      disks: [],
      nics: [],
      translate: false,
    },
    host,
    {
      output: (b) => (out += new TextDecoder().decode(b)),
      stopped: (r) => {
        target.vmStopped(r);
        stopped!();
      },
      rebooted: () => target.vmRebooted(),
    },
  );
  const target = new SessionQmpTarget(() => session, {
    version: qmpVersion('0.1.0', 'virtkit 0.1.0'),
    name: 'vm1',
    hostStats: () => ({ cpuMs: 12.4, rss: 1 << 20 }),
    quit: () => {
      quits++;
      session.stop({ kind: 'quit' });
    },
  });
  const sent: Record<string, unknown>[] = [];
  const conn = target.monitor.connect({
    send: (t) => sent.push(JSON.parse(t) as Record<string, unknown>),
    close: () => {},
  });
  const say = (cmd: string, args?: object) => {
    sent.length = 0;
    conn.feed(new TextEncoder().encode(JSON.stringify({ execute: cmd, ...(args ? { arguments: args } : {}) })));
    return sent.map((s) => (s.event ? `${s.event as string}${s.data ? ' ' + JSON.stringify(s.data) : ''}` : s));
  };
  say('qmp_capabilities');
  return { session, target, say, sent, out: () => out, quits: () => quits, whenStopped };
}

const tick = () => new Promise((r) => setTimeout(r, 20));
async function until(cond: () => boolean) {
  while (!cond()) await tick();
}

test('prelaunch until cont; stop and cont pause and run the session; query-name', async () => {
  const vm = boot(printKernel('hello\n'));
  const status = () => (vm.say('query-status')[0] as { return: { status: string } }).return.status;
  assert.equal(status(), 'prelaunch');
  assert.deepEqual(vm.say('cont'), ['RESUME', { return: {} }]);
  await until(() => vm.out().includes('hello'));
  assert.equal(status(), 'running');
  assert.deepEqual(vm.say('stop'), ['STOP', { return: {} }]);
  assert.equal(vm.session.running, false);
  assert.equal(status(), 'paused');
  assert.deepEqual(vm.say('cont'), ['RESUME', { return: {} }]);
  assert.equal(vm.session.running, true);
  assert.deepEqual(vm.say('query-name'), [{ return: { name: 'vm1' } }]);
  const stats = (vm.say('x-virtkit-query-stats')[0] as { return: Record<string, unknown> }).return;
  assert.deepEqual(Object.keys(stats).sort(), ['disks', 'host', 'instructions', 'mips', 'nics', 'uptime-ms']);
  assert.ok((stats.instructions as number) > 0 && (stats['uptime-ms'] as number) > 0);
  assert.deepEqual(stats.host, { 'cpu-ms': 12, rss: 1 << 20 });
  assert.deepEqual([stats.disks, stats.nics], [[], []]);
  assert.deepEqual(vm.say('system_powerdown'), [
    { error: { class: 'GenericError', desc: 'the guest has no driver running for the power button' } },
  ]);
  assert.deepEqual(vm.say('quit'), ['SHUTDOWN {"guest":false,"reason":"host-qmp-quit"}', { return: {} }]);
  await vm.whenStopped;
  assert.equal(vm.quits(), 1);
  assert.equal(vm.sent.filter((s) => s.event === 'SHUTDOWN').length, 1);
  assert.equal(status(), 'shutdown');
});

test("system_reset boots the kernel again, as a host reset (not the guest's)", async () => {
  const vm = boot(printKernel('hello\n'));
  vm.session.start();
  await until(() => vm.out().includes('hello'));
  assert.deepEqual(vm.say('system_reset'), ['RESET {"guest":false,"reason":"host-qmp-system-reset"}', { return: {} }]);
  await until(() => vm.out() === 'hello\nhello\n');
  assert.equal(vm.sent.length, 2); // no second RESET from the rebuild
  // A paused VM stays paused across a reset.
  vm.say('stop');
  vm.say('system_reset');
  assert.equal(vm.session.running, false);
  vm.session.stop();
  await vm.whenStopped;
});

test('a guest power-off is SHUTDOWN {guest: true, reason: guest-shutdown}', async () => {
  const vm = boot(dbcnKernel(0));
  vm.session.start();
  await vm.whenStopped;
  assert.deepEqual(
    vm.sent.filter((s) => s.event).map((s) => [s.event, s.data]),
    [['SHUTDOWN', { guest: true, reason: 'guest-shutdown' }]],
  );
  assert.deepEqual(vm.say('cont'), [
    { error: { class: 'GenericError', desc: 'Resetting the Virtual Machine is required' } },
  ]);
  assert.deepEqual(vm.say('system_reset'), [
    { error: { class: 'GenericError', desc: 'the VM has stopped: there is nothing to reset' } },
  ]);
});
