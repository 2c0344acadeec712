/**
 * The manager's snapshot revert procedure (docs/manager.md, "Snapshots"), end to end with the
 * default guest run headless: x-virtkit-savevm, more guest writes (to RAM and to the disk), the
 * VM process killed with SIGKILL; then `virtkit img snapshot -a TAG disk.qcow2` and
 * `virtkit run --restore STATE --disk disk.qcow2` bring back RAM and disk as they were at the
 * savevm, consistently. A disk that was not reverted, or another disk, is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuest, GUEST_PROMPT, VIRTKIT } from '../support/virtkit.ts';
import { QmpClient } from '../../src/host/node/qmp-client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function vmProcess(dir: string, tag: string, args: string[]) {
  const qmp = join(dir, `${tag}-q.sock`);
  const con = join(dir, `${tag}-c.sock`);
  const pid = join(dir, `${tag}.pid`);
  const all = ['run', ...args, '--qmp', `unix:${qmp}`, '--console', `unix:${con}`, '--pidfile', pid];
  const child = spawn(process.execPath, [VIRTKIT, ...all], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
  return { qmp, con, pid, child, exited, err: () => stderr };
}

/** A console client: everything the guest printed since it connected, and typing. */
async function consoleOf(path: string) {
  const s = createConnection(path);
  s.on('error', () => {});
  const c = {
    out: '',
    type: (text: string) => s.write(text),
    async waitFor(re: RegExp, from = 0, ms = 600_000) {
      const t0 = Date.now();
      while (!re.test(c.out.slice(from))) {
        if (Date.now() - t0 > ms) throw new Error(`no ${re} in the console: ...${c.out.slice(-500)}`);
        await sleep(50);
      }
    },
    close: () => s.destroy(),
  };
  s.on('data', (b: Buffer) => (c.out += b.toString()));
  await new Promise((r) => s.once('connect', r));
  return c;
}

async function until(cond: () => boolean) {
  while (!cond()) await sleep(20);
}

test(
  'savevm, more writes, kill -9; revert the disk and restore: RAM and disk as at the savevm',
  { timeout: 1_200_000 },
  async () => {
    ensureGuest();
    const dir = mkdtempSync(join(tmpdir(), 'vk-savevm-'));
    const cleanup: (() => void)[] = [];
    const vk = (...a: string[]) => spawnSync(process.execPath, [VIRTKIT, ...a], { encoding: 'utf8', timeout: 120_000 });
    try {
      const disk = join(dir, 'disk.qcow2');
      const state = join(dir, 'vm.state');
      assert.equal(vk('img', 'create', '-f', 'qcow2', disk, '16M').status, 0);

      const first = vmProcess(dir, 'a', ['--memory', '256M', '--disk', disk]);
      cleanup.push(() => first.child.kill('SIGKILL'));
      await until(() => existsSync(first.pid));
      const con = await consoleOf(first.con);
      cleanup.push(con.close);
      await con.waitFor(GUEST_PROMPT);
      // (`$((1+0))`: the marker appears only in the command's output, not in its echo.)
      let at = con.out.length;
      con.type(
        "MARK=ram-at-savevm; printf 'disk-at-savevm' | dd of=/dev/vda conv=fsync 2>/dev/null; echo @@W$((1+0))\n",
      );
      await con.waitFor(/@@W1/, at);
      const qmp = await QmpClient.connect(first.qmp);
      cleanup.push(() => qmp.close());
      assert.deepEqual(
        await qmp.execute('x-virtkit-savevm', { tag: 'snap1', 'state-file': state }, { timeoutMs: 300_000 }),
        {},
      );
      at = con.out.length;
      con.type("MARK=ram-after; printf 'disk-after-it!' | dd of=/dev/vda conv=fsync 2>/dev/null; echo @@W$((1+1))\n");
      await con.waitFor(/@@W2/, at);
      first.child.kill('SIGKILL');
      assert.equal(await first.exited, -1);
      con.close();
      qmp.close();

      // Not reverted: refused, and the message says how to revert.
      let r = vk('run', '--restore', state, '--disk', disk);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /not the snapshot's disk 1 .*revert it first \(virtkit img snapshot -a snap1 /);
      // Another disk of the same size and format: refused.
      const other = join(dir, 'other.qcow2');
      assert.equal(vk('img', 'create', '-f', 'qcow2', other, '16M').status, 0);
      r = vk('run', '--restore', state, '--disk', other);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /fingerprint mismatch/);

      // The procedure: revert the disk, then restore the state with it.
      r = vk('img', 'snapshot', '-a', 'snap1', disk);
      assert.equal(r.status, 0, r.stderr);
      const second = vmProcess(dir, 'b', ['--restore', state, '--disk', disk]);
      cleanup.push(() => second.child.kill('SIGKILL'));
      await until(() => existsSync(second.pid));
      const con2 = await consoleOf(second.con);
      const qmp2 = await QmpClient.connect(second.qmp);
      // (Markers made by arithmetic again: @@1 RAM, @@2 disk through the page cache, @@3 the disk itself.)
      con2.type(
        'echo "@@$((0+1)) $MARK"; echo "@@$((1+1)) $(head -c 14 /dev/vda)"; echo 3 > /proc/sys/vm/drop_caches; echo "@@$((1+2)) $(head -c 14 /dev/vda)"\n',
      );
      await con2.waitFor(/@@3 \S+/);
      assert.match(con2.out, /@@1 ram-at-savevm/);
      assert.match(con2.out, /@@2 disk-at-savevm/);
      assert.match(con2.out, /@@3 disk-at-savevm/);
      const shutdown = qmp2.waitEvent('SHUTDOWN');
      await qmp2.execute('quit');
      await shutdown;
      assert.equal(await second.exited, 0, second.err());
      con2.close();
      qmp2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
