/**
 * The shared lock holder's lifetime: it goes (and its locks with it) when virtkit goes, however
 * virtkit ends; it never keeps a process alive; and if it is killed under us the loss is reported
 * and the next open starts a new one.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStore } from './file-store.ts';
import { lockModeFor, setLockWarning } from './image-lock.ts';
import { lockedBytes } from './proc-locks-test-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtkit-lock-helper-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const fileStoreUrl = new URL('./file-store.ts', import.meta.url).href;
const imageLockUrl = new URL('./image-lock.ts', import.meta.url).href;
const repo = fileURLToPath(new URL('../../..', import.meta.url));

/** Child processes of this process's main thread. */
function children(pid = process.pid): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

/** Whether `pid` is gone (or a zombie nobody has reaped yet: it holds nothing). */
function gone(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), what);
}

/** Runs a script in a Node child (TypeScript through tsx); `onLine` sees its output lines. */
function script(body: string, onLine: (line: string, pid: number) => void = () => {}) {
  const file = join(dir, `s${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(
    file,
    `import { FileStore } from ${JSON.stringify(fileStoreUrl)};\n` +
      `import { lockModeFor } from ${JSON.stringify(imageLockUrl)};\n` +
      `import { readFileSync } from 'node:fs';\n${body}\n`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    out += s;
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      onLine(out.slice(0, nl), child.pid!);
      out = out.slice(nl + 1);
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited };
}

describe('the lock holder', { skip: process.platform !== 'linux' && 'OFD locks are Linux only' }, () => {
  it('goes with its process, and the locks with it, even when the process is killed', async () => {
    const f = join(dir, 'killed.img');
    writeFileSync(f, new Uint8Array(4096));
    let helper = 0;
    const ready = new Promise<void>((resolve) => {
      const { child } = script(
        `await FileStore.open(${JSON.stringify(f)}, { lock: lockModeFor(false) });\n` +
          `console.log(readFileSync('/proc/' + process.pid + '/task/' + process.pid + '/children', 'utf8').trim());\n` +
          `setInterval(() => {}, 1000);`,
        (line) => {
          helper = Number(line.split(/\s+/)[0]);
          assert.deepEqual(lockedBytes(f), [100, 101, 103, 201, 203]);
          child.kill('SIGKILL');
          resolve();
        },
      );
    });
    await ready;
    assert.ok(helper > 0);
    await until('the locks are released', () => lockedBytes(f).length === 0);
    await until('the helper has ended', () => gone(helper));
  });

  it('never keeps a process alive: a script that leaves a locked store open exits', async () => {
    const f = join(dir, 'open.img');
    writeFileSync(f, new Uint8Array(4096));
    const { exited } = script(
      `const s = await FileStore.open(${JSON.stringify(f)}, { lock: lockModeFor(true) });\n` +
        `const t = await FileStore.open(${JSON.stringify(f)}, { readOnly: true, lock: lockModeFor(true) });\n` +
        `console.log('opened');`,
    );
    assert.equal(await exited, 0);
    await until('the locks are released', () => lockedBytes(f).length === 0);
  });

  it('a process that ends by itself has ended its lock holder first', async () => {
    const f = join(dir, 'closed.img');
    writeFileSync(f, new Uint8Array(4096));
    let helper = 0;
    const { exited } = script(
      `const s = await FileStore.open(${JSON.stringify(f)}, { lock: lockModeFor(false) });\n` +
        `console.log(readFileSync('/proc/' + process.pid + '/task/' + process.pid + '/children', 'utf8').trim());\n` +
        `await s.close();`,
      (line) => (helper = Number(line.split(/\s+/)[0])),
    );
    assert.equal(await exited, 0);
    assert.ok(helper > 0);
    // No waiting: the process waited for its helper's exit before its own.
    assert.ok(gone(helper), 'the helper outlived its process');
  });

  it('killed under us: the loss is reported once, and the next open starts a new one', async () => {
    const warnings: string[] = [];
    setLockWarning((t) => warnings.push(t));
    try {
      const f = join(dir, 'lost.img');
      const g = join(dir, 'next.img');
      writeFileSync(f, new Uint8Array(4096));
      writeFileSync(g, new Uint8Array(4096));
      const s = await FileStore.open(f, { lock: lockModeFor(false) });
      const helpers = children().filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'perl');
      assert.equal(helpers.length, 1, 'one helper');
      process.kill(helpers[0]!, 'SIGKILL');
      await until('the loss is reported', () => warnings.length > 0);
      assert.match(warnings[0]!, /^image locks lost: the lock helper ended with SIGKILL; the locks on 1 open image\(s\)/);
      assert.deepEqual(lockedBytes(f), []);
      const t = await FileStore.open(g, { lock: lockModeFor(true) });
      assert.deepEqual(lockedBytes(g), [100, 201, 203]);
      await s.close();
      await t.close();
      assert.deepEqual(lockedBytes(g), []);
      assert.equal(warnings.length, 1);
      assert.ok(existsSync(f));
    } finally {
      setLockWarning(undefined);
    }
  });
});
