/**
 * The web console's logic that needs no browser: the SSE parser it reads GET /v1/events with,
 * the metrics history behind its charts, and which actions it offers and confirms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../../web/console/src/sse.ts';
import { StatsHistory, formatBytes } from '../../web/console/src/stats.ts';
import { actionRequest, canAct, confirmation, VM_ACTIONS } from '../../web/console/src/actions.ts';

test('SSE: messages split anywhere, comments skipped, CRLF and multi-line data', () => {
  const text =
    ': virtkit events\n\nevent: state\nid: 7\ndata: {"vm":"a"}\n\n: ping\n\r\nevent: state\r\ndata: x\r\ndata: y\r\n\r\n';
  for (const step of [1, 3, 7, text.length]) {
    const p = new SseParser();
    const out = [];
    for (let i = 0; i < text.length; i += step) out.push(...p.push(text.slice(i, i + step)));
    assert.deepEqual(
      out,
      [
        { event: 'state', data: '{"vm":"a"}', id: '7' },
        { event: 'state', data: 'x\ny', id: '7' },
      ],
      `chunks of ${step}`,
    );
  }
  assert.deepEqual(new SseParser().push('data: no end yet\n'), [], 'a message is complete only at its blank line');
});

function stats(uptimeMs: number, o: { rd?: number; wr?: number; rx?: number; tx?: number; cpu?: number } = {}) {
  return {
    state: 'running',
    'uptime-ms': uptimeMs,
    mips: 100,
    host: { 'cpu-ms': 1, rss: 64 * 1048576, 'cpu-percent': o.cpu ?? 50 },
    disks: [
      { id: 'virtkit0', 'rd-bytes': o.rd ?? 0, 'wr-bytes': o.wr ?? 0 },
      { id: 'virtkit1', 'rd-bytes': 1000, 'wr-bytes': 0 },
    ],
    nics: [{ id: 'net0', 'rx-bytes': o.rx ?? 0, 'tx-bytes': o.tx ?? 0 }],
  };
}

test('stats history: counters become rates over the VM uptime, gaps while stopped, one hour kept', () => {
  const h = new StatsHistory(3600);
  const first = h.add(1_000_000, stats(10_000));
  assert.equal(first.diskRd, null, 'no rate from a single sample');
  assert.equal(first.rss, 64);
  assert.equal(first.cpu, null, "a process's first CPU figure runs from its start: not charted");
  const second = h.add(1_005_000, stats(15_000, { rd: 5 * 4096, wr: 10_000, rx: 500, tx: 50 }));
  assert.equal(second.cpu, 50);
  assert.equal(second.diskRd, 4096);
  assert.equal(second.diskWr, 2000);
  assert.equal(second.netRx, 100);
  assert.equal(second.netTx, 10);
  const gap = h.add(1_010_000, { state: 'stopped' });
  assert.deepEqual([gap.cpu, gap.rss, gap.diskRd], [null, null, null]);
  // A new VM process: its counters start again; no negative or bogus rate.
  const restarted = h.add(1_015_000, stats(2_000, { rd: 10 }));
  assert.equal(restarted.diskRd, null);
  assert.equal(h.add(1_020_000, stats(7_000, { rd: 5010 })).diskRd, 1000);
  const [t, cpu] = h.columns(['cpu']);
  assert.deepEqual(t, [1000, 1005, 1010, 1015, 1020]);
  assert.deepEqual(cpu, [null, 50, null, null, 50]);
  h.add(1_020_000 + 3600_000, stats(10_000));
  assert.deepEqual(h.columns([])[0], [1020, 4620], 'samples older than an hour are dropped');
});

test('formatBytes', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1048576), '3.0 MiB');
});

test('actions: offered by state, refused while busy; destructive ones ask first', () => {
  const offered = (state: string) => VM_ACTIONS.filter((a) => canAct(a, state)).join(' ');
  assert.equal(offered('stopped'), 'start snapshot clone delete');
  assert.equal(offered('running'), 'shutdown stop pause reboot snapshot delete');
  assert.equal(offered('paused'), 'stop resume snapshot delete');
  assert.equal(offered('starting'), '');
  assert.equal(VM_ACTIONS.filter((a) => canAct(a, 'running', true)).length, 0);
  for (const a of ['stop', 'reboot', 'delete'] as const) assert.ok(confirmation(a, 'vm1', 'running'), a);
  for (const a of ['start', 'shutdown', 'pause', 'resume', 'snapshot', 'clone'] as const)
    assert.equal(confirmation(a, 'vm1', 'running'), undefined, a);
  assert.match(confirmation('revert', 'vm1', 'running', 's1')!, /'s1'.*stopped first/);
  assert.match(confirmation('delete', 'vm1', 'running')!, /power it off/);
  assert.deepEqual(actionRequest('delete', 'vm1', 'running'), { method: 'DELETE', path: '/v1/vms/vm1?force=true' });
  assert.deepEqual(actionRequest('delete', 'vm1', 'stopped'), { method: 'DELETE', path: '/v1/vms/vm1' });
  assert.deepEqual(actionRequest('pause', 'vm1', 'running'), { method: 'POST', path: '/v1/vms/vm1/pause' });
});
