/** `virtkit vm`'s human output: aligned tables, humanised sizes, counts and durations. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpuPercent,
  eventLine,
  humanBytes,
  humanCount,
  humanDuration,
  snapshotList,
  statsTable,
  table,
  vmInfo,
  vmList,
} from './vm-format.ts';
import type { Vm, VmStats } from '../manager/client/types.ts';

test('sizes, counts and durations in the units people read', () => {
  assert.equal(humanBytes(0), '0 B');
  assert.equal(humanBytes(512), '512 B');
  assert.equal(humanBytes(1536), '1.5 KiB');
  assert.equal(humanBytes(128 * 1024 * 1024), '128 MiB');
  assert.equal(humanBytes(2 * 1024 ** 3), '2 GiB');
  assert.equal(humanBytes(10.25 * 1024 ** 2), '10.3 MiB');
  assert.equal(humanBytes(1023), '1023 B');
  assert.equal(humanBytes(-1), '-');
  assert.equal(humanCount(950), '950');
  assert.equal(humanCount(12_345), '12.3K');
  assert.equal(humanCount(4_560_000), '4.56M');
  assert.equal(humanCount(7_000_000_000), '7G');
  assert.equal(humanDuration(45_999), '45s');
  assert.equal(humanDuration(192_000), '3m12s');
  assert.equal(humanDuration(5 * 3600_000 + 3 * 60_000), '5h03m');
  assert.equal(humanDuration(52 * 3600_000), '2d04h');
});

test('tables: columns padded to the widest cell, numbers right-aligned, no trailing blanks', () => {
  assert.equal(
    table(
      ['NAME', 'SIZE', 'NOTE'],
      [
        ['a', '1', ''],
        ['longer', '100', 'x'],
      ],
      ['SIZE'],
    ),
    ['NAME    SIZE  NOTE', 'a          1', 'longer   100  x'].join('\n'),
  );
});

const vm = (over: Partial<Vm>): Vm => ({
  name: 'a',
  id: '3f2a9c01',
  state: 'stopped',
  memory: 128,
  cpus: 1,
  source: { type: 'default' },
  disks: [],
  nics: [],
  created: '2026-12-07T06:00:00.000Z',
  ...over,
});

test('vm list: one aligned row per VM, sorted by name, uptime while up', () => {
  const now = Date.parse('2026-12-07T07:00:00.000Z');
  const text = vmList(
    [
      vm({
        name: 'web',
        state: 'running',
        memory: 1024,
        cpus: 2,
        pid: 4242,
        startedAt: '2026-12-07T06:58:30.000Z',
        disks: [{ path: '/d', format: 'qcow2', owned: true, readonly: false }],
      }),
      vm({ name: 'db', id: '00ff00ff' }),
    ],
    now,
  );
  assert.equal(
    text,
    [
      'NAME  STATE    CPUS   MEMORY  DISKS  UPTIME   PID  ID',
      'db    stopped     1  128 MiB      0  -          -  00ff00ff',
      'web   running     2    1 GiB      1  1m30s   4242  3f2a9c01',
    ].join('\n'),
  );
  assert.match(vmList([]), /no VMs \(create one with 'virtkit vm create NAME'\)/);
});

test('vm info: fields, disks and NICs', () => {
  const text = vmInfo(
    vm({
      source: { type: 'image', path: '/img/deb.qcow2', format: 'qcow2' },
      disks: [{ path: '/var/x/disk0.qcow2', format: 'qcow2', owned: true, readonly: false }],
      nics: [{ hostfwd: ['tcp::8080-:80'] }],
    }),
  );
  assert.match(text, /^name: +a$/m);
  assert.match(text, /^memory: +128 MiB$/m);
  assert.match(text, /^source: +image \/img\/deb\.qcow2 \(qcow2\)$/m);
  assert.match(text, /^ {2}PATH +FORMAT +OWNED +MODE +BACKING\n {2}\/var\/x\/disk0\.qcow2 +qcow2 +yes +rw$/m);
  assert.match(text, /^ {2}0: user, hostfwd tcp::8080-:80$/m);
});

test('vm stats: CPU over the last interval when there is a previous sample, else since start', () => {
  const s1: VmStats = {
    state: 'running',
    'uptime-ms': 10_000,
    instructions: 5e9,
    mips: 512.3,
    host: { 'cpu-ms': 5_000, rss: 80 * 1024 * 1024 },
    disks: [{ id: 'vda', 'rd-bytes': 2048, 'wr-bytes': 0, 'rd-ops': 1, 'wr-ops': 0 }],
    nics: [],
  };
  const s2: VmStats = { ...s1, 'uptime-ms': 12_000, host: { 'cpu-ms': 5_100, rss: 80 * 1024 * 1024 } };
  assert.equal(cpuPercent(s1), 50);
  assert.equal(cpuPercent(s2, s1), 5);
  assert.equal(
    statsTable([
      { name: 'a', stats: s2, prev: s1 },
      { name: 'bb', stats: { state: 'paused', 'uptime-ms': 0 } },
    ]),
    [
      'NAME  STATE    UPTIME  INSTRUCTIONS   MIPS   CPU     RSS  DISK R/W   NET RX/TX',
      'a     running     12s            5G  512.3  5.0%  80 MiB  2 KiB/0 B  0 B/0 B',
      'bb    paused       0s             -      -     -       -  -          -',
    ].join('\n'),
  );
});

test('snapshots and events', () => {
  assert.equal(
    snapshotList('a', [{ name: 'before', created: '2026-12-07T06:00:00Z', vmState: true }]),
    'NAME    CREATED               RAM\nbefore  2026-12-07T06:00:00Z  yes',
  );
  assert.equal(snapshotList('a', []), 'a has no snapshots');
  assert.equal(
    eventLine({
      vm: 'a',
      state: 'crashed',
      previous: 'running',
      reason: 'killed by SIGKILL',
      time: '2026-12-07T06:00:00Z',
    }),
    '2026-12-07T06:00:00Z  a  running -> crashed  (killed by SIGKILL)',
  );
});
