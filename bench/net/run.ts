/**
 * Network benchmark: TCP throughput through user-mode NAT, for virtkit (`--net user`) and for
 * qemu-system-riscv64 -M virt with `-netdev user` booting the same kernel and initramfs in the
 * same run. Three transfers of --mb MiB each, all on 127.0.0.1:
 *
 *   host -> guest   the guest wgets a file from an HTTP server on the host (via 10.0.2.2)
 *   guest -> host   the guest POSTs a file to that server
 *   hostfwd         the host fetches a file from busybox httpd in the guest through a forwarded port
 *
 * Times are taken on the host: from the request's arrival at the server to the guest's
 * completion marker on the console (host -> guest), to the end of the request body
 * (guest -> host), and around the fetch (hostfwd). Prints MB/s for both and the ratio.
 *
 *   node --import tsx bench/net/run.ts [--mb 16] [--no-qemu]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { loadGuest, fetchDefaultGuest } from '../../src/host/node/guest/debian-guest.ts';
import { writeCpio } from '../../src/machine/cpio.ts';
import { UDHCPC_DEBIAN_PATH, UDHCPC_SCRIPT, UDHCPC_SCRIPT_PATH } from '../../src/host/node/net/udhcpc-script.ts';

const VIRTKIT = fileURLToPath(new URL('../../bin/virtkit', import.meta.url));
const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin';
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const MB = Number(opt('--mb', '16'));
const BYTES = MB * 1024 * 1024;
const noQemu = args.includes('--no-qemu');

class Console {
  out = '';
  private n = 0;
  constructor(readonly child: ChildProcess) {
    const log = process.env.VIRTKIT_NET_LOG; // FILE: a copy of the console, to watch a run
    child.stdout!.on('data', (d) => {
      this.out += d;
      if (log) appendFileSync(log, d);
    });
    child.stderr!.on('data', (d) => (this.out += d));
    child.stdin!.on('error', () => {});
  }
  async waitFor(re: RegExp, from = 0, ms = 1_800_000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out.slice(from))) {
      if (this.child.exitCode !== null || Date.now() > end)
        throw new Error(`guest stopped or timed out waiting for ${re}\n${this.out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  /** Types cmd; resolves with the time the completion marker appeared. */
  async run(cmd: string): Promise<number> {
    const n = ++this.n;
    const from = this.out.length;
    this.child.stdin!.write(`${cmd}; echo "@@B$((${n}*1))@@"\n`);
    await this.waitFor(new RegExp(`@@B${n}@@`), from);
    return performance.now();
  }
}

interface Result {
  h2g: number;
  g2h: number;
  fwd: number;
}

async function bench(name: string, cmd: string, argv: (fwdPort: number) => string[]): Promise<Result> {
  const big = Buffer.alloc(BYTES, 0x5a); // 'Z's: text, so the guest can post the same file back
  let reqStart = 0;
  let uploadDone: (t: number) => void = () => {};
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    reqStart = performance.now();
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': String(big.length) });
      res.end(big);
    } else {
      let n = 0;
      req.on('data', (d) => (n += d.length));
      req.on('end', () => {
        if (n !== BYTES) console.error(`upload: received ${n} bytes, expected ${BYTES}`);
        uploadDone(performance.now());
        res.end(`got ${n}\n`);
      });
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const fwd = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));

  const child = spawn(cmd, argv(fwd), { stdio: ['pipe', 'pipe', 'pipe'] });
  const c = new Console(child);
  try {
    await c.waitFor(/virtkit:[^\n]*# /);
    await c.run('udhcpc -i eth0 -n -q -t 5 >/dev/null 2>&1');
    // The upload source: text (busybox wget --post-file stops at a NUL byte), fetched untimed.
    await c.run(`wget -q -O /tmp/up http://10.0.2.2:${port}/big; mkdir -p /www; ln -sf /tmp/up /www/up`);
    await c.run('httpd -p 8080 -h /www');

    const h2gEnd = await c.run(`wget -q -O /dev/null http://10.0.2.2:${port}/big`);
    const h2g = h2gEnd - reqStart;

    const up = new Promise<number>((r) => (uploadDone = r));
    await c.run(`wget -q -O /dev/null --post-file=/tmp/up http://10.0.2.2:${port}/upload`);
    const g2h = (await up) - reqStart;

    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${fwd}/up`);
    const body = new Uint8Array(await res.arrayBuffer());
    const fwdMs = performance.now() - t0;
    if (body.length !== BYTES) throw new Error(`${name}: hostfwd fetched ${body.length} bytes, expected ${BYTES}`);
    child.stdin!.write('poweroff -f\n');
    await new Promise((r) => child.on('close', r));
    const rate = (ms: number) => BYTES / 1048576 / (ms / 1000);
    return { h2g: rate(h2g), g2h: rate(g2h), fwd: rate(fwdMs) };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    srv.close();
  }
}

const g = (await loadGuest()) ?? (await fetchDefaultGuest({ progress: (m) => console.error(m) }));
const dir = mkdtempSync(join(tmpdir(), 'virtkit-bench-net-'));
try {
  // The udhcpc event script, appended to an older cached initramfs (new guest builds carry it).
  let initrd = g.initrd;
  const base = readFileSync(g.initrd);
  if (!base.includes(UDHCPC_SCRIPT_PATH)) {
    initrd = join(dir, 'initramfs.cpio');
    const extra = writeCpio([
      { type: 'dir', path: 'usr/share' },
      { type: 'dir', path: 'usr/share/udhcpc' },
      { type: 'file', path: UDHCPC_SCRIPT_PATH, data: new TextEncoder().encode(UDHCPC_SCRIPT), mode: 0o755 },
      { type: 'dir', path: 'etc/udhcpc' },
      { type: 'symlink', path: UDHCPC_DEBIAN_PATH, target: `/${UDHCPC_SCRIPT_PATH}` },
    ]);
    writeFileSync(initrd, Buffer.concat([base, Buffer.alloc((4 - (base.length % 4)) % 4), Buffer.from(extra)]));
  }
  if (!existsSync(OPENSBI)) throw new Error(`${OPENSBI} is missing: apt-get install opensbi`);
  const v = await bench('virtkit', process.execPath, (fwd) => [
    VIRTKIT,
    'run',
    '--firmware',
    OPENSBI,
    '--kernel',
    g.kernel,
    '--initrd',
    initrd,
    '--memory',
    '256M',
    '--net',
    `user,hostfwd=tcp:127.0.0.1:${fwd}-:8080`,
  ]);
  const fmt = (x: number) => x.toFixed(2).padStart(8);
  console.log(`transfer size ${MB} MiB each way`);
  console.log(`                 virtkit MB/s`);
  console.log(`host -> guest    ${fmt(v.h2g)}\nguest -> host    ${fmt(v.g2h)}\nhostfwd fetch    ${fmt(v.fwd)}`);
  if (!noQemu) {
    const q = await bench('qemu', 'qemu-system-riscv64', (fwd) => [
      '-M',
      'virt',
      '-m',
      '256M',
      '-kernel',
      g.kernel,
      '-initrd',
      initrd,
      '-append',
      'console=ttyS0',
      '-nographic',
      '-device',
      'virtio-net-device,netdev=n0',
      '-netdev',
      `user,id=n0,hostfwd=tcp:127.0.0.1:${fwd}-:8080`,
    ]);
    console.log(`\n                 virtkit MB/s   QEMU MB/s   ratio QEMU/virtkit`);
    for (const [label, a, b] of [
      ['host -> guest', v.h2g, q.h2g],
      ['guest -> host', v.g2h, q.g2h],
      ['hostfwd fetch', v.fwd, q.fwd],
    ] as const) {
      console.log(`${label.padEnd(16)} ${fmt(a)}     ${fmt(b)}   ${(b / a).toFixed(1).padStart(8)}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
