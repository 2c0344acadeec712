/**
 * One QMP conversation held with the real qemu-system-riscv64 and with a virtkit VM, comparing
 * the shapes of what each answers: the keys of `return` objects, error classes (and the texts
 * QEMU's clients match on), event names and their data keys.
 *
 * Where they legitimately differ, the test says so at that step:
 * - the greeting's `capabilities`: QEMU offers ["oob"], virtkit [] (no out-of-band execution);
 * - query-status's `status` value: QEMU started with -S is in prelaunch until `cont`;
 * - system_powerdown: QEMU's virt board has a power button; a virtkit machine without one
 *   answers GenericError "this machine has no power button" (with one: POWERDOWN, as QEMU).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VIRTKIT } from '../support/virtkit.ts';
import { printKernel } from '../../src/vmm/testing.ts';

type Msg = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw QMP line client: every message, in order, including answers without ids. */
class Raw {
  readonly msgs: Msg[] = [];
  private buf = '';
  private read = 0;
  closed = false;
  constructor(private readonly s: Socket) {
    s.on('data', (b: Buffer) => {
      this.buf += b.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (line) this.msgs.push(JSON.parse(line) as Msg);
      }
    });
    s.on('close', () => (this.closed = true));
    s.on('error', () => {});
  }

  static async connect(path: string): Promise<Raw> {
    for (let i = 0; ; i++) {
      try {
        const s = createConnection(path);
        await new Promise<void>((ok, fail) => {
          s.once('connect', ok);
          s.once('error', fail);
        });
        return new Raw(s);
      } catch (e) {
        if (i > 500) throw e;
        await sleep(20);
      }
    }
  }

  private async next(pred: (m: Msg) => boolean, what: string): Promise<Msg> {
    for (let t = 0; ; t++) {
      const i = this.msgs.findIndex((m, k) => k >= this.read && pred(m));
      if (i >= 0) return this.msgs[i]!;
      if (this.closed || t > 3000) throw new Error(`no ${what}; got ${JSON.stringify(this.msgs.slice(this.read))}`);
      await sleep(10);
    }
  }

  /** An event named `name` received since the last command was sent. */
  event(name: string): Promise<Msg> {
    return this.next((m) => m.event === name, `${name} event`);
  }

  greeting(): Promise<Msg> {
    return this.next((m) => 'QMP' in m, 'greeting');
  }

  /** Sends `text`; returns the answer and the events named in `events` (waited for). */
  async say(text: string, events: string[] = []): Promise<{ reply: Msg; events: Msg[] }> {
    const from = this.msgs.length;
    this.read = from;
    this.s.write(text + '\n');
    const reply = await this.next((m) => 'return' in m || 'error' in m, `answer to ${text}`);
    const got: Msg[] = [];
    for (const e of events) got.push(await this.next((m) => m.event === e, `${e} event`));
    this.read = this.msgs.length;
    return { reply, events: got };
  }
}

/** What is compared: keys of a return object, error class (and desc where QEMU's text matters), events' names and data keys. */
function shape(x: { reply: Msg; events: Msg[] }, exactDesc = false) {
  const r = x.reply;
  const ret = r.return;
  const reply =
    'error' in r
      ? { error: (r.error as Msg).class, ...(exactDesc ? { desc: (r.error as Msg).desc } : {}), id: r.id }
      : {
          return: ret !== null && typeof ret === 'object' && !Array.isArray(ret) ? Object.keys(ret).sort() : typeof ret,
          id: r.id,
        };
  const events = x.events.map((e) => ({
    event: e.event,
    timestamp: Object.keys(e.timestamp as Msg).sort(),
    data: e.data ? Object.keys(e.data as Msg).sort() : undefined,
  }));
  return { reply, events };
}

async function conversation(c: Raw, leavePrelaunch: boolean) {
  const out: Record<string, unknown> = {};
  const g = (await c.greeting()).QMP as Msg;
  out.greeting = {
    keys: Object.keys(g).sort(),
    version: Object.keys(g.version as Msg).sort(),
    qemu: Object.keys((g.version as Msg).qemu as Msg).sort(),
  };
  out.early = shape(await c.say('{"execute":"query-status","id":1}'), true);
  out.negotiate = shape(await c.say('{"execute":"qmp_capabilities","id":"n"}'));
  out.again = shape(await c.say('{"execute":"qmp_capabilities"}'), true);
  out.status = shape(await c.say('{"execute":"query-status"}'));
  // QEMU was started with -S (prelaunch): leave it first, so stop has a running VM to stop.
  if (leavePrelaunch) await c.say('{"execute":"cont"}', ['RESUME']);
  out.stop = shape(await c.say('{"execute":"stop","id":2}', ['STOP']));
  out.paused = (await c.say('{"execute":"query-status"}')).reply.return;
  out.cont = shape(await c.say('{"execute":"cont","id":3}', ['RESUME']));
  out.version = shape(await c.say('{"execute":"query-version"}'));
  out.name = shape(await c.say('{"execute":"query-name"}'));
  out.unknown = shape(await c.say('{"execute":"no-such-command","id":4}'), true);
  out.unexpectedArg = shape(await c.say('{"execute":"stop","arguments":{"x":1},"id":5}'), true);
  out.unexpectedMember = shape(await c.say('{"execute":"stop","foo":1,"id":6}'), true);
  out.notObject = shape(await c.say('[1,2]'), true);
  const bad = await c.say('garbage');
  out.malformed = { class: (bad.reply.error as Msg).class, prefix: String((bad.reply.error as Msg).desc).slice(0, 18) };
  out.commands = ((await c.say('{"execute":"query-commands"}')).reply.return as Msg[]).map((x) => x.name);
  return out;
}

test(
  'QMP conversation: qemu-system-riscv64 and virtkit answer with the same shapes',
  { timeout: 300_000 },
  async () => {
    const qemuBin = spawnSync('qemu-system-riscv64', ['--version'], { encoding: 'utf8' });
    assert.equal(qemuBin.status, 0, 'qemu-system-riscv64 is needed as the reference peer');
    const dir = mkdtempSync(join(tmpdir(), 'vk-qmp-compat-'));
    const procs: ChildProcess[] = [];
    try {
      const qemuSock = join(dir, 'qemu.sock');
      const qemu = spawn(
        'qemu-system-riscv64',
        [
          '-M',
          'virt',
          '-bios',
          'none',
          '-S',
          '-display',
          'none',
          '-nodefaults',
          '-qmp',
          `unix:${qemuSock},server=on,wait=off`,
        ],
        { stdio: 'ignore' },
      );
      procs.push(qemu);
      const kernel = join(dir, 'k.img');
      writeFileSync(kernel, printKernel('hi\n'));
      const vkSock = join(dir, 'vk.sock');
      const vk = spawn(
        process.execPath,
        [
          VIRTKIT,
          'run',
          '--kernel',
          kernel,
          '--memory',
          '16M',
          '--qmp',
          `unix:${vkSock},server=on,wait=off`,
          '--console',
          `unix:${join(dir, 'c.sock')}`,
        ],
        { stdio: 'ignore' },
      );
      procs.push(vk);
      const qemuExit = new Promise<number | null>((r) => qemu.on('exit', (c) => r(c)));
      const vkExit = new Promise<number | null>((r) => vk.on('exit', (c) => r(c)));

      const q = await Raw.connect(qemuSock);
      const v = await Raw.connect(vkSock);
      const fromQemu = await conversation(q, true);
      const fromVk = await conversation(v, false);

      // The greeting and every answer have the same shape; the texts clients match on are QEMU's.
      for (const k of [
        'greeting',
        'early',
        'negotiate',
        'again',
        'status',
        'stop',
        'cont',
        'version',
        'name',
        'unknown',
        'unexpectedArg',
        'unexpectedMember',
        'notObject',
        'malformed',
      ])
        assert.deepEqual(
          fromVk[k],
          fromQemu[k],
          `${k}: virtkit ${JSON.stringify(fromVk[k])} vs QEMU ${JSON.stringify(fromQemu[k])}`,
        );
      assert.deepEqual(fromVk.paused, fromQemu.paused);
      // virtkit's commands are a subset of QEMU's, plus its x-virtkit- ones.
      for (const name of fromVk.commands as string[])
        assert.ok(
          name.startsWith('x-virtkit-') || (fromQemu.commands as string[]).includes(name),
          `${name} is not a QEMU command`,
        );

      // Legitimate difference: powerdown on a machine without a power button.
      const pq = shape(await q.say('{"execute":"system_powerdown","id":8}', ['POWERDOWN']));
      assert.deepEqual(pq, {
        reply: { return: [], id: 8 },
        events: [{ event: 'POWERDOWN', timestamp: ['microseconds', 'seconds'], data: undefined }],
      });
      const pv = await v.say('{"execute":"system_powerdown","id":8}');
      if ('error' in pv.reply)
        assert.deepEqual(pv.reply, {
          id: 8,
          error: { class: 'GenericError', desc: 'this machine has no power button' },
        });
      else {
        // With a power button (virtio-input KEY_POWER): the same answer and event as QEMU's.
        assert.deepEqual(shape(pv).reply, pq.reply);
        assert.equal((await v.event('POWERDOWN')).event, 'POWERDOWN');
      }

      // quit: SHUTDOWN {guest, reason} and an empty return, then the process ends (status 0).
      const sq = await q.say('{"execute":"quit","id":9}', ['SHUTDOWN']);
      const sv = await v.say('{"execute":"quit","id":9}', ['SHUTDOWN']);
      assert.deepEqual(shape(sv), shape(sq));
      assert.deepEqual(sv.events[0]!.data, sq.events[0]!.data);
      assert.equal(await vkExit, 0);
      assert.equal(await qemuExit, 0);
      assert.ok(!existsSync(vkSock));
    } finally {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
