/**
 * A running VM moves from the daemon into a browser tab and back, end to end in headless Chromium
 * (Debian's, through playwright-core): `virtkit daemon --listen 127.0.0.1:0`, a VM from the
 * default guest with a 16 MiB qcow2 disk. In the daemon's console the guest makes an ext2 file
 * system on the disk and writes a file; "open in this tab" moves the VM into the page's Web
 * Worker, where the same boot (boot id, uptime not reset) reads the file back from the disk
 * through the daemon (the page cache dropped first) and writes another; "send back" returns it to
 * the daemon, whose console (in the page, then the API's WebSocket) reads both files from disk.
 *
 * Screenshots go to $VIRTKIT_TEST_ARTIFACTS/browser-move (default test-artifacts/browser-move).
 * One guest boot and two restores (one in the browser): a few minutes on a busy 2-core machine.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  ROOT,
  consoleText,
  launchChromium,
  screenshot,
  typeAtConsole,
  waitForConsole,
  type ChromiumSession,
} from './harness.ts';
import { TestDaemon, guestShell } from '../manager/harness.ts';

const BOOT_MS = 600_000;
const CMD_MS = 180_000;
const artifacts = join(process.env.VIRTKIT_TEST_ARTIFACTS ?? join(ROOT, 'test-artifacts'), 'browser-move');

const d = new TestDaemon();
let url: string;
let chrome: ChromiumSession;
let page: Page;
const pageLog: string[] = [];

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  await d.start(['--listen', '127.0.0.1:0']);
  url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(d.log)![1]! + '/';
  chrome = await launchChromium();
  page = chrome.page;
  page.on('console', (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
});
after(async () => {
  if (pageLog.length) process.stderr.write(`page log:\n${pageLog.slice(-40).join('\n')}\n`);
  await chrome?.close();
  await d.cleanup();
});

const shot = (name: string): Promise<void> => screenshot(page, artifacts, name);
const terminalText = (): Promise<string> => consoleText(page);
const waitForTerminal = (re: RegExp, timeoutMs: number, poke = false): Promise<RegExpExecArray> =>
  waitForConsole(page, re, timeoutMs, poke);
/** Types a command at the shell prompt and waits for a line of its output matching `answer`. */
const run = (cmd: string, answer: RegExp): Promise<RegExpExecArray> => typeAtConsole(page, cmd, answer, CMD_MS);

async function apiState(): Promise<string> {
  return (await d.req('GET', '/v1/vms/mover')).body.state as string;
}

/** `TAG BOOT=<boot id> UP=<uptime s>` printed by the guest: the command's echo shows `$(` instead. */
const probe = (tag: string) =>
  `echo "${tag} BOOT=$(cat /proc/sys/kernel/random/boot_id) UP=$(cut -d' ' -f1 /proc/uptime)"`;
const probeAnswer = (tag: string) => new RegExp(`${tag} BOOT=([0-9a-f-]{36}) UP=([0-9.]+)`);

test(
  'a running VM moves into the tab and back; its files and its uptime go with it',
  { timeout: 2_400_000 },
  async () => {
    const c = await d.req('POST', '/v1/vms', { name: 'mover', memory: 128, disks: [{ size: 16 }] });
    assert.equal(c.status, 201, c.text);
    assert.equal((await d.req('POST', '/v1/vms/mover/start')).status, 200);

    await page.goto(url);
    await page.locator('#login-form').waitFor();
    await page.fill('#token', d.token());
    await page.click('#login-form button[type=submit]');
    await page.locator('h2', { hasText: 'Virtual machines' }).waitFor();
    await page.goto(`${url}#/vm/mover`);
    await page.locator('#console-status', { hasText: 'connected: typing' }).waitFor({ timeout: 60_000 });
    await waitForTerminal(/# ?$/m, BOOT_MS, true);

    // In the daemon: a file on the disk (ext2 made in the guest), the boot's identity and uptime.
    await run(
      'mkfs.ext2 -q /dev/vda && mount /dev/vda /mnt && echo moved-42 > /mnt/f && sync && echo "made-$((40+2))"',
      /^made-42$/,
    );
    const before = await run(probe('T0'), probeAnswer('T0'));
    const bootId = before[1]!;
    const upBefore = Number(before[2]);
    await shot('1-daemon-console');

    // Move into this tab: the daemon's VM process ends, the page's worker continues the VM.
    await page.click('.vm-head [data-action=open-in-tab]');
    await page.locator('#ops .op.done', { hasText: 'move mover into this tab' }).waitFor({ timeout: 300_000 });
    await page.locator('#console-status', { hasText: 'in this tab: running' }).waitFor({ timeout: 60_000 });
    assert.equal(await apiState(), 'in-browser');
    assert.equal(await page.locator('.vm-head .state').textContent(), 'in-browser');
    // The daemon refuses to run it meanwhile.
    const refused = await d.req('POST', '/v1/vms/mover/start');
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /browser tab/);
    await shot('2-moved-into-tab');

    // Same boot, uptime on from where it was; the file read from the disk (through the daemon).
    await page.keyboard.press('Enter');
    const inTab = await run(probe('T1'), probeAnswer('T1'));
    assert.equal(inTab[1], bootId, 'the same boot in the tab');
    assert.ok(Number(inTab[2]) >= upBefore, `uptime ${inTab[2]} s in the tab, ${upBefore} s before the move`);
    await run('echo 3 > /proc/sys/vm/drop_caches; echo "T1 F=$(cat /mnt/f)"', /^T1 F=moved-42$/);
    await run('echo from-tab-7 > /mnt/g && sync && echo "wrote-$((3+4))"', /^wrote-7$/);
    await shot('3-in-tab');

    // Send back: the daemon resumes it in a new VM process; the same console continues.
    await page.click('.vm-head [data-action=send-back]');
    await page.locator('#ops .op.done', { hasText: 'send mover back to the daemon' }).waitFor({ timeout: 300_000 });
    assert.equal(await apiState(), 'running');
    try {
      await page.locator('#console-status', { hasText: 'connected: typing' }).waitFor({ timeout: 60_000 });
    } catch (e) {
      await shot('4-failed');
      throw new Error(
        `${(e as Error).message}\nconsole status: ${await page.locator('#console-status').textContent()}`,
      );
    }
    await page.keyboard.press('Enter');
    const back = await run(probe('T2'), probeAnswer('T2'));
    assert.equal(back[1], bootId, 'the same boot back on the daemon');
    assert.ok(Number(back[2]) >= Number(inTab[2]));
    await run(
      'echo 3 > /proc/sys/vm/drop_caches; echo "T2 F=$(cat /mnt/f) G=$(cat /mnt/g)"',
      /^T2 F=moved-42 G=from-tab-7$/,
    );
    // The earlier output is still on the screen: the console session went on.
    assert.match(await terminalText(), /T0 BOOT=[\s\S]*T1 F=moved-42[\s\S]*T2 F=/);
    await shot('4-back-on-daemon');
    // The figures of this run (the page's own timing of both moves).
    process.stderr.write(`operations: ${(await page.locator('#ops').innerText()).replace(/\n/g, '; ')}\n`);

    // And over the API's console WebSocket (the daemon's serial console), once the page, which
    // types in it, has left the VM's page.
    await page.click('a[href="#/"]');
    await page.locator('h2', { hasText: 'Virtual machines' }).waitFor();
    const out = await guestShell(d, 'mover', 'echo "API G=$(cat /mnt/g)"', /API G=from-tab-7/);
    assert.match(out, /API G=from-tab-7/);
    const events = ((await d.req('GET', '/v1/vms/mover/events')).body as { reason: string | null }[]).map(
      (e) => e.reason,
    );
    assert.ok(events.includes('moved to a browser tab'));
    assert.ok(events.includes('back from a browser tab'));
  },
);
