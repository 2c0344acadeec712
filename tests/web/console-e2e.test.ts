/**
 * The web console end to end: `virtkit daemon --listen 127.0.0.1:0` serves it, headless Chromium
 * (Debian's, through playwright-core) logs in with the daemon's token like a person, creates a
 * VM from the default guest, starts it, types `echo hello-from-web` into the xterm.js console and
 * reads the answer, watches the metrics charts fill, takes a snapshot, changes the guest, reverts
 * and finds the change gone, and deletes the VM. Requests without the token are refused (HTTP 401,
 * and the console WebSocket from the page itself).
 *
 * Screenshots go to $VIRTKIT_TEST_ARTIFACTS/web-console (default test-artifacts/web-console in
 * the checkout, ignored by git). One guest boot plus one restore: a minute or two on a quiet
 * machine, more on a busy one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { WebSocket } from 'ws';
import {
  ROOT,
  launchChromium,
  screenshot,
  typeAtConsole,
  waitForConsole,
  type ChromiumSession,
} from './harness.ts';
import { TestDaemon } from '../manager/harness.ts';

const BOOT_MS = 600_000;
const CMD_MS = 60_000;
const artifacts = join(process.env.VIRTKIT_TEST_ARTIFACTS ?? join(ROOT, 'test-artifacts'), 'web-console');

const d = new TestDaemon();
let url: string;
let chrome: ChromiumSession;
let page: Page;

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  await d.start(['--listen', '127.0.0.1:0']);
  url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(d.log)![1]! + '/';
  chrome = await launchChromium();
  page = chrome.page;
});
after(async () => {
  await chrome?.close();
  await d.cleanup();
});

const shot = (name: string): Promise<void> => screenshot(page, artifacts, name);
const waitForTerminal = (re: RegExp, timeoutMs: number, poke = false): Promise<RegExpExecArray> =>
  waitForConsole(page, re, timeoutMs, poke);
/** Types a command at the shell prompt and waits for a line of its output matching `answer`. */
const run = (cmd: string, answer: RegExp): Promise<RegExpExecArray> => typeAtConsole(page, cmd, answer, CMD_MS);

async function vmState(): Promise<string> {
  return (await page.locator('.vm-head .state').textContent()) ?? '';
}

async function waitForState(re: RegExp, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!re.test(await vmState())) {
    if (Date.now() > end) throw new Error(`the VM page never showed state ${re}; it shows '${await vmState()}'`);
    await page.waitForTimeout(500);
  }
}

async function confirmDialog(fields: Record<string, string> = {}): Promise<void> {
  await page.locator('#dialog[open]').waitFor();
  for (const [name, value] of Object.entries(fields)) await page.locator(`#dialog [name="${name}"]`).fill(value);
  await page.click('#dialog-ok');
}

test(
  'log in, create, boot, type, snapshot, revert and delete a VM in the web console',
  { timeout: 1_800_000 },
  async () => {
    const token = d.token();

    // Login: a wrong token is refused; the right one is kept in sessionStorage, never in the URL.
    await page.goto(url);
    await page.locator('#login-form').waitFor();
    await page.fill('#token', 'f'.repeat(64));
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error', { hasText: 'refused' }).waitFor();
    await shot('1-login-refused');
    await page.fill('#token', token);
    await page.click('#login-form button[type=submit]');
    await page.locator('h2', { hasText: 'Virtual machines' }).waitFor();
    assert.ok(await page.locator('#login').isHidden(), 'the login form is gone once logged in');
    assert.equal(
      await page.evaluate(() =>
        (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem(
          'virtkit.token',
        ),
      ),
      token,
    );
    assert.ok(!page.url().includes(token));

    // Without the token the page's own requests are refused.
    const unauth = await page.evaluate(async () => (await fetch('/v1/vms')).status);
    assert.equal(unauth, 401);

    // Create from the default guest and start it from the list.
    await page.fill('#create [name=name]', 'web1');
    await page.fill('#create [name=memory]', '128');
    await page.click('#create button[type=submit]');
    const row = page.locator('tr[data-vm="web1"]');
    await row.locator('.state', { hasText: 'stopped' }).waitFor();
    await row.locator('[data-action=start]').click();
    await row.locator('.state', { hasText: 'running' }).waitFor({ timeout: 120_000 });
    // The list's metrics come from the stats poller: CPU % and the VM process's RSS.
    await row.locator('td.num', { hasText: '%' }).waitFor({ timeout: 60_000 });
    await shot('2-list-running');

    // Its page: the console connects (as the typist) and the guest boots to a shell.
    await row.locator('a', { hasText: 'web1' }).click();
    await page.locator('#console-status', { hasText: 'connected: typing' }).waitFor({ timeout: 60_000 });
    await waitForTerminal(/# ?$/, BOOT_MS, true);
    await run('echo hello-from-web', /^hello-from-web$/);
    await shot('3-console-hello');

    // The WebSocket needs the token too: from the page without it, the handshake fails; a
    // client offering it as a subprotocol gets in, and the server selects the other protocol.
    const refused = await page.evaluate(
      (path) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(path, ['virtkit.console']);
          ws.onopen = () => resolve('open');
          ws.onclose = (e) => resolve(`closed ${e.code}`);
        }),
      `${url.replace('http', 'ws')}v1/vms/web1/console?mode=watch`,
    );
    assert.equal(refused, 'closed 1006', 'a refused handshake');
    const watcher = new WebSocket(`${url.replace('http', 'ws')}v1/vms/web1/console?mode=watch`, [
      'virtkit.console',
      `virtkit.bearer.${token}`,
    ]);
    const selected = await new Promise<string>((ok, ko) => {
      watcher.on('open', () => ok(watcher.protocol));
      watcher.on('error', ko);
    });
    watcher.close();
    assert.equal(selected, 'virtkit.console', 'the token is never echoed back');

    // Metrics: the poller samples every 5 s; two samples draw lines in the five charts.
    await page.waitForFunction(
      () => (globalThis as unknown as { virtkitConsole: { samples(): number } }).virtkitConsole.samples() >= 3,
      undefined,
      { timeout: 120_000 },
    );
    assert.equal(await page.locator('#charts .uplot').count(), 5);
    await shot('4-vm-page-charts');

    // Snapshot (disks and RAM), then change the guest.
    await page.click('.vm-head [data-action=snapshot]');
    await confirmDialog({ name: 's1' });
    await page.locator('#snapshots [data-snapshot="s1"]').waitFor({ timeout: 300_000 });
    await page.locator('#ops .op.done', { hasText: "snapshot 's1'" }).waitFor();
    await run('touch /tmp/after-snap && echo made-after', /^made-after$/);
    await shot('5-snapshot-taken');

    // Revert: the VM is stopped and restarted from the snapshot; the console reconnects and the
    // file made after the snapshot is gone.
    await page.click('#snapshots [data-snapshot="s1"] [data-action=revert]');
    await confirmDialog();
    await page.locator('#ops .op.done', { hasText: "revert web1 to 's1'" }).waitFor({ timeout: 300_000 });
    await waitForState(/^running$/, 120_000);
    await page.locator('#console-status', { hasText: 'connected: typing' }).waitFor({ timeout: 60_000 });
    await waitForTerminal(/# ?$/, CMD_MS, true);
    await run('ls /tmp/after-snap || echo gone-after-revert', /^gone-after-revert$/);
    await shot('6-after-revert');
    const events = (await page.locator('#events').textContent()) ?? '';
    assert.match(events, /snapshot/);

    // Delete (running: the confirmation says it powers the VM off first).
    await page.click('.vm-head [data-action=delete]');
    await page.locator('#dialog-text', { hasText: 'power it off' }).waitFor();
    await confirmDialog();
    await page.locator('h2', { hasText: 'Virtual machines' }).waitFor({ timeout: 120_000 });
    await page.locator('text=No VMs yet').waitFor();
    await shot('7-deleted');
    assert.deepEqual((await d.req('GET', '/v1/vms')).body, []);
  },
);
