/**
 * GET /metrics against a real daemon (TCP with its token) and one running VM of the default
 * guest: the exposition parses (parse-prometheus-text-format), the VM's series carry its name
 * and id, and its disk counters and latency histograms grow when the guest reads and writes
 * its disk; the daemon's own series (process, VMs by state, snapshot durations) are there.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import parse, { type ParsedFamily, type ParsedSample } from 'parse-prometheus-text-format';
import { TestDaemon, guestShell, httpRequest } from './harness.ts';

const d = new TestDaemon();
let port = 0;
before(async () => {
  await d.start(['--listen', '127.0.0.1:0']);
  port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(d.log)![1]);
});
after(() => d.cleanup());

interface Scrape {
  families: ParsedFamily[];
  /**
   * The same text parsed with the histograms' TYPE lines removed: the parser folds every
   * series of a histogram family into one (it keeps labels only for unlabelled histograms), so
   * its _bucket, _sum and _count lines are read as plain samples, labels and all.
   */
  plain: ParsedFamily[];
}

async function scrape(): Promise<Scrape> {
  const r = await httpRequest({ host: '127.0.0.1', port }, 'GET', '/metrics', undefined, {
    authorization: `Bearer ${d.token()}`,
  });
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.text), /^# TYPE virtkit_vms gauge$/m);
  return { families: parse(r.text), plain: parse(r.text.replace(/^# TYPE \S+ histogram$/gm, '')) };
}

/** One labelled histogram series: cumulative buckets in order, sum and count. */
function histogram(m: Scrape, name: string, labels: Record<string, string>) {
  const fam = m.families.find((f) => f.name === name);
  assert.equal(fam?.type, 'HISTOGRAM', `${name} is a histogram`);
  const buckets = samples(m.plain, `${name}_bucket`, labels).map((s) => [s.labels!.le!, Number(s.value)] as const);
  return {
    buckets,
    sum: plainValue(m, `${name}_sum`, labels),
    count: plainValue(m, `${name}_count`, labels),
  };
}

function samples(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): ParsedSample[] {
  const f = families.find((x) => x.name === name);
  return (f?.metrics ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

function plainValue(m: Scrape, name: string, labels: Record<string, string>): number {
  const s = samples(m.plain, name, labels);
  assert.equal(s.length, 1, `${name} ${JSON.stringify(labels)}: ${s.length} samples`);
  return Number(s[0]!.value);
}

function value(m: Scrape, name: string, labels: Record<string, string> = {}): number {
  const s = samples(m.families, name, labels);
  assert.equal(s.length, 1, `${name} ${JSON.stringify(labels)}: ${s.length} samples`);
  return Number(s[0]!.value);
}

test('/metrics needs the token on TCP, answers the Prometheus text format, and is in the OpenAPI document', async () => {
  const no = await httpRequest({ host: '127.0.0.1', port }, 'GET', '/metrics');
  assert.equal(no.status, 401);
  assert.equal(no.body.error.code, 'unauthorized');
  const r = await httpRequest({ host: '127.0.0.1', port }, 'GET', '/metrics', undefined, {
    authorization: `Bearer ${d.token()}`,
  });
  assert.match(r.text, /^# HELP /m);
  const bad = await d.req('GET', '/metrics?colour=red');
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /unknown field 'colour'/);
  const doc = await d.req('GET', '/openapi.json');
  assert.ok(doc.body.paths['/metrics']?.get, 'GET /metrics documented');
  const m = await scrape();
  assert.ok(value(m, 'virtkit_daemon_process_resident_memory_bytes') > 1 << 20);
  assert.equal(value(m, 'virtkit_vms', { state: 'running' }), 0);
});

test('a running VM: state, uptime, CPU, RSS, instructions, NIC counters; disk bytes, ops and latency grow with guest I/O', async () => {
  const c = await d.req('POST', '/v1/vms', { name: 'mon', memory: 128, disks: [{ size: 16 }], nics: [{}] });
  assert.equal(c.status, 201, c.text);
  const id = c.body.id as string;
  assert.equal((await d.req('POST', '/v1/vms/mon/start')).status, 200);
  await guestShell(d, 'mon', 'echo ready-$((2*3))', /ready-6/);

  const vm = { vm: 'mon', id };
  const disk = { ...vm, disk: 'virtkit0' };
  const m1 = await scrape();
  assert.equal(value(m1, 'virtkit_vm_state', { ...vm, state: 'running' }), 1);
  assert.equal(value(m1, 'virtkit_vm_state', { ...vm, state: 'stopped' }), 0);
  assert.equal(value(m1, 'virtkit_vms', { state: 'running' }), 1);
  assert.equal(value(m1, 'virtkit_vm_memory_bytes', vm), 128 << 20);
  assert.ok(value(m1, 'virtkit_vm_uptime_seconds', vm) > 0);
  assert.ok(value(m1, 'virtkit_vm_host_cpu_seconds_total', vm) > 0);
  assert.ok(value(m1, 'virtkit_vm_resident_memory_bytes', vm) > 128 << 20);
  assert.ok(value(m1, 'virtkit_vm_guest_instructions_total', vm) > 1e6);
  // The guest asked for an address by DHCP at boot, and got one.
  assert.ok(value(m1, 'virtkit_vm_network_transmit_packets_total', { ...vm, nic: 'net0' }) > 0);
  assert.ok(value(m1, 'virtkit_vm_network_receive_bytes_total', { ...vm, nic: 'net0' }) > 0);
  const rd1 = value(m1, 'virtkit_vm_disk_read_bytes_total', disk);
  const wr1 = value(m1, 'virtkit_vm_disk_written_bytes_total', disk);
  const rdOps1 = value(m1, 'virtkit_vm_disk_read_ops_total', disk);
  const lat1 = histogram(m1, 'virtkit_vm_disk_read_latency_seconds', disk);
  assert.equal(lat1.buckets.length, 16, 'a read latency histogram: 15 bounds and +Inf');

  // 4 MiB the guest has not read yet (nothing of it is in its page cache), then 1 MiB written.
  await guestShell(
    d,
    'mon',
    'dd if=/dev/vda of=/dev/null bs=65536 count=64 2>/dev/null; dd if=/dev/zero of=/dev/vda bs=65536 count=16 conv=fsync 2>/dev/null; echo io-$((5*5))',
    /io-25/,
  );
  const m2 = await scrape();
  const rd2 = value(m2, 'virtkit_vm_disk_read_bytes_total', disk);
  const wr2 = value(m2, 'virtkit_vm_disk_written_bytes_total', disk);
  console.log(`disk read bytes ${rd1} -> ${rd2}, written ${wr1} -> ${wr2}`);
  assert.ok(rd2 - rd1 >= 3 << 20, `read bytes grew by ${rd2 - rd1}`);
  assert.ok(wr2 - wr1 >= 1 << 20, `written bytes grew by ${wr2 - wr1}`);
  assert.ok(value(m2, 'virtkit_vm_disk_read_ops_total', disk) > rdOps1);
  assert.ok(value(m2, 'virtkit_vm_disk_write_ops_total', disk) > 0);
  for (const name of ['virtkit_vm_disk_read_latency_seconds', 'virtkit_vm_disk_write_latency_seconds']) {
    const h = histogram(m2, name, disk);
    const counts = h.buckets.map(([, v]) => v);
    assert.deepEqual(h.buckets.map(([le]) => le).slice(0, 3), ['0.00005', '0.0001', '0.00025']);
    assert.equal(h.buckets.at(-1)![0], '+Inf');
    assert.ok(
      counts.every((c, i) => i === 0 || c >= counts[i - 1]!),
      'cumulative buckets',
    );
    assert.equal(h.count, counts.at(-1));
    assert.ok(h.count > 0 && h.sum > 0, `${name}: ${h.count} requests, ${h.sum} s`);
    console.log(`${name}: ${h.count} requests, mean ${Math.round((h.sum / h.count) * 1e6)} us`);
  }
  const lat2 = histogram(m2, 'virtkit_vm_disk_read_latency_seconds', disk);
  assert.ok(lat2.count > lat1.count);

  // Stopped: the state moves, the sampled series go, and a disk snapshot is timed.
  assert.equal((await d.req('POST', '/v1/vms/mon/stop')).status, 200);
  assert.equal((await d.req('POST', '/v1/vms/mon/snapshots', { name: 's1' })).status, 201);
  const m3 = await scrape();
  assert.equal(value(m3, 'virtkit_vm_state', { ...vm, state: 'stopped' }), 1);
  assert.equal(samples(m3.families, 'virtkit_vm_uptime_seconds', vm).length, 0);
  assert.equal(histogram(m3, 'virtkit_snapshot_duration_seconds', { kind: 'disk', result: 'ok' }).count, 1);
});
