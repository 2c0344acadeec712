import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestProfiler, SymbolTable, formatProfile } from './guest-profile.ts';
import { Vm, type StopReason } from './vm.ts';
import { dbcnKernel } from './testing.ts';
import { nodeVmHost } from '../host/node/vm-host.ts';

test('System.map and /proc/kallsyms text: the symbol containing an address', () => {
  const t = SymbolTable.parse(
    [
      'ffffffff80002000 T _stext',
      'ffffffff80002100 t helper',
      'ffffffff80003000 D some_data',
      'ffffffff80004000 W weak_fn',
      'not a symbol line',
      '0000000080200000 T low_entry [module]',
    ].join('\n'),
  );
  const key = (hex: string) => (parseInt(hex.slice(0, 8), 16) & 0xfffff) * 2 ** 32 + parseInt(hex.slice(8), 16);
  assert.equal(t.lookup(key('ffffffff80002000')), '_stext');
  assert.equal(t.lookup(key('ffffffff800020ff')), '_stext');
  assert.equal(t.lookup(key('ffffffff80002104')), 'helper');
  assert.equal(t.lookup(key('ffffffff80003800')), 'helper', 'data symbols do not end a function');
  assert.equal(t.lookup(key('ffffffff80004010')), 'weak_fn');
  assert.equal(t.lookup(key('0000000080200010')), 'low_entry');
  assert.equal(t.lookup(key('0000000000001000')), undefined, 'below every symbol');
});

test('a symbol file without text symbols is refused with what was expected', () => {
  assert.throws(() => SymbolTable.parse(''), /no text symbols found/);
  assert.throws(() => SymbolTable.parse('\u0000\u0001 binary junk\nffffffffffffffff B bss_only'), /System\.map/);
});

test('a profiled VM: instructions, supervisor pc samples named by symbol, SBI calls, host time', async () => {
  let finish!: (r: StopReason) => void;
  const stopped = new Promise<StopReason>((r) => (finish = r));
  const vm = new Vm({ memoryBytes: 16 * 1024 * 1024, cpus: 1, kernel: dbcnKernel(40) }, nodeVmHost, {
    output: () => {},
    stopped: finish,
  });
  const prof = new GuestProfiler(nodeVmHost.nowMs());
  vm.profileWith(prof);
  vm.start();
  assert.deepEqual(await stopped, { kind: 'poweroff' });
  // The kernel image runs at RAM base + 2 MiB, physical addresses in S-mode (no paging).
  const symbols = SymbolTable.parse('0000000080200000 T test_kernel\n');
  const r = prof.report(nodeVmHost.nowMs(), symbols);
  assert.ok(r.instructions > 0 && r.instructions === vm.instructions, `instructions ${r.instructions}`);
  assert.ok(r.samples.total > 0, 'at least one slice ran instructions');
  assert.equal(r.samples.byPriv.supervisor, r.samples.total, 'the test kernel runs in S-mode only');
  assert.equal(r.topKernel[0]?.name, 'test_kernel');
  assert.ok(r.host.sliceSeconds >= 0 && r.host.sliceCount >= r.samples.total);
  assert.equal(r.satpWrites, 0);
  const text = formatProfile(r);
  assert.match(text, /virtkit profile: [\d.]+ s, [\d,]+ instructions/);
  assert.match(text, /test_kernel/);
  // Without symbols, pcs are grouped by 256-byte block and shown in hex.
  const plain = prof.report(nodeVmHost.nowMs());
  assert.match(plain.topKernel[0]!.name, /^0000000080200[0-9a-f]00$/);
});
