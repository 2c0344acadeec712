/**
 * virtkit in a browser tab, end to end: `virtkit web` serves the app and the default guest,
 * headless Chromium (Debian's, through playwright-core) boots it, and the test types into the
 * xterm.js terminal like a person. Covers the error banners, a boot with a lazily read URL disk
 * and a host file disk, snapshot save -> reload -> restore, and snapshots crossing between the
 * browser and `virtkit run` in both directions.
 *
 * Needs the default guest (cached by `virtkit guest fetch`; `virtkit web` fetches it) and
 * Chromium at /usr/bin/chromium (Debian package 'chromium'). Two guest boots: one in the
 * browser, one in Node; allow minutes on a busy machine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  ROOT,
  launchChromium,
  startVirtkitWeb,
  terminalText,
  waitForTerminal,
  type ChromiumSession,
  type WebServerProcess,
} from './harness.ts';
import { bootNodeGuest } from './node-vm.ts';
import { loadGuest } from '../../src/host/node/guest/debian-guest.ts';
import { decodeSnapshot, encodeSnapshot } from '../../src/vmm/snapshot-file.ts';
import { decodeOverlayRecord } from '../../src/host/browser/overlay-snapshot.ts';
import type { SnapshotConfig } from '../../src/host/browser/vm-controller.ts';

const BOOT_MS = 600_000;
const CMD_MS = 60_000;
const PROMPT_END = /# ?$/;
const FILE_MARK = 'VIRTKIT-FILE-DISK';
const URL_MARK = 'VIRTKIT-HTTP-DISK';

let srv: WebServerProcess;
let chrome: ChromiumSession;
let page: Page;
let work: string;
const artifacts = join(tmpdir(), 'virtkit-web-artifacts');

async function errorBanner(timeoutMs = 60_000): Promise<string> {
  const banner = page.locator('#error');
  await banner.waitFor({ state: 'visible', timeout: timeoutMs });
  return (await banner.textContent()) ?? '';
}

/** Types a command into the terminal and waits until its output and the next prompt appear. */
async function run(cmd: string, expect: RegExp): Promise<string> {
  await page.locator('.xterm').click();
  await page.keyboard.type(cmd);
  await page.keyboard.press('Enter');
  return waitForTerminal(page, new RegExp(expect.source + '[\\s\\S]*' + PROMPT_END.source), CMD_MS);
}

/** Which of the VM buttons are enabled, e.g. 'pause save power reboot'. */
async function enabledButtons(): Promise<string> {
  const on: string[] = [];
  for (const id of ['pause', 'resume', 'save', 'power', 'reboot']) if (await page.locator(`#${id}`).isEnabled()) on.push(id);
  return on.join(' ');
}

/** The terminal's size and whether its rendered cells lie inside its box. */
function terminalFit(): Promise<{ cols: number; rows: number; inside: boolean; slackX: number; slackY: number }> {
  return page.evaluate(() => {
    const { cols, rows } = (globalThis as unknown as { virtkit: { size: { cols: number; rows: number } } }).virtkit
      .size;
    interface Rect {
      right: number;
      bottom: number;
      width: number;
      height: number;
    }
    type El = { getBoundingClientRect(): Rect } | null;
    const doc = (globalThis as unknown as { document: { querySelector(sel: string): El } }).document;
    const box = doc.querySelector('#terminal')!.getBoundingClientRect();
    const screen = doc.querySelector('.xterm-screen')!.getBoundingClientRect();
    const inside = screen.right <= box.right && screen.bottom <= box.bottom;
    // Room left over, in cells: a fitted terminal leaves less than about one cell (plus padding).
    return {
      cols,
      rows,
      inside,
      slackX: (box.right - screen.right) / (screen.width / cols),
      slackY: (box.bottom - screen.bottom) / (screen.height / rows),
    };
  });
}

async function waitForSize(pred: (s: { cols: number; rows: number }) => boolean): Promise<void> {
  for (let i = 0; i < 50 && !pred(await terminalFit()); i++) await page.waitForTimeout(100);
}

async function saveSnapshot(path: string): Promise<void> {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click('#save')]);
  assert.match(dl.suggestedFilename(), /^virtkit-.*\.snap$/);
  await dl.saveAs(path);
  assert.equal(readFileSync(path).subarray(0, 6).toString('latin1'), 'VKSNAP');
}

/** A snapshot's bytes with its page disk records rewritten (RAM and machine state kept). */
function withDiskRefs(
  bytes: Uint8Array,
  change: (d: NonNullable<SnapshotConfig['web']>['disks'][number]) => unknown,
): Uint8Array {
  const d = decodeSnapshot(bytes);
  const ram = new Uint8Array(d.ramSize);
  d.restoreRam(ram);
  const state = d.state as { meta: { config: SnapshotConfig } };
  const config = { ...state.meta.config, web: { disks: state.meta.config.web!.disks.map(change) } };
  return encodeSnapshot({ ...state, meta: { ...state.meta, config } }, ram);
}

async function restoreSnapshot(path: string, files: string[] = []): Promise<void> {
  await page.goto(srv.url);
  if (files.length) await page.setInputFiles('#disk-files', files);
  await page.setInputFiles('#restore-file', path);
  await page.locator('#phase', { hasText: 'running' }).waitFor({ timeout: 120_000 });
}

/** Runs `virtkit run ARGS` with input piped to it. */
function virtkitRun(args: string[], input: string) {
  const child = spawn(process.execPath, [join(ROOT, 'bin/virtkit'), 'run', ...args], {
    cwd: work,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  child.stdin!.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), BOOT_MS);
  return new Promise<{ code: number | null; out: string; err: string }>((ok) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      ok({ code, out, err });
    }),
  );
}

describe('virtkit web in headless Chromium', { timeout: 1_800_000 }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'virtkit-web-e2e-'));
    mkdirSync(artifacts, { recursive: true });
    // A raw disk for the file picker and a qcow2 disk served by URL, each starting with a marker.
    const raw = new Uint8Array(1 << 20);
    raw.set(new TextEncoder().encode(FILE_MARK));
    writeFileSync(join(work, 'file-disk.img'), raw);
    const urlRaw = new Uint8Array(4 << 20);
    urlRaw.set(new TextEncoder().encode(URL_MARK));
    writeFileSync(join(work, 'url-disk.raw'), urlRaw);
    execFileSync('qemu-img', [
      'convert',
      '-f',
      'raw',
      '-O',
      'qcow2',
      join(work, 'url-disk.raw'),
      join(work, 'url-disk.qcow2'),
    ]);
    // The same image cut short: its tables point past the end.
    writeFileSync(join(work, 'truncated.qcow2'), readFileSync(join(work, 'url-disk.qcow2')).subarray(0, 200_000));
    // A snapshot header from a future format version.
    const future = new Uint8Array(64);
    future.set(new TextEncoder().encode('VKSNAP\0\0'));
    new DataView(future.buffer).setUint32(8, 99, true);
    writeFileSync(join(work, 'future.snap'), future);
    srv = await startVirtkitWeb(['--files', work]);
    chrome = await launchChromium();
    page = chrome.page;
  });

  after(async () => {
    await chrome?.close();
    await srv?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a missing kernel URL is reported in the page', async () => {
    await page.goto(`${srv.url}?kernel=files/no-such-Image&autostart=1`);
    const msg = await errorBanner();
    assert.match(msg, /kernel URL .*no-such-Image: not found \(HTTP 404/);
  });

  test('an unreachable kernel URL is reported in the page', async () => {
    await page.goto(`${srv.url}?kernel=${encodeURIComponent('http://127.0.0.1:9/Image')}&autostart=1`);
    assert.match(await errorBanner(), /cannot reach kernel URL http:\/\/127\.0\.0\.1:9\/Image/);
  });

  test('a truncated disk image is reported in the page', async () => {
    await page.goto(`${srv.url}?kernel=guest/Image&initrd=guest/initramfs.cpio&disk=files/truncated.qcow2&autostart=1`);
    assert.match(await errorBanner(), /disk .*truncated\.qcow2: .*outside the file/);
  });

  test('a bad page configuration is reported in the page', async () => {
    await page.goto(`${srv.url}?kernel=guest/Image&memory=lots`);
    assert.match(await errorBanner(), /memory: 'lots' is not a size/);
  });

  test('a snapshot from an incompatible version is reported in the page', async () => {
    await page.goto(srv.url);
    await page.setInputFiles('#restore-file', join(work, 'future.snap'));
    assert.match(await errorBanner(), /future\.snap: snapshot format version 99 is not supported/);
  });

  test('before a boot the VM buttons are off, and the terminal fits the window as it changes', async () => {
    await page.goto(`${srv.url}?kernel=guest/Image&initrd=guest/initramfs.cpio`);
    assert.equal(await enabledButtons(), '');
    await waitForSize((s) => s.cols !== 100);
    const big = await terminalFit();
    assert.ok(big.inside, JSON.stringify(big));
    assert.ok(big.cols > 100 && big.slackX < 5 && big.slackY < 3, JSON.stringify(big));
    assert.equal(await page.locator('#term-size').textContent(), `${big.cols}×${big.rows}`);
    await page.setViewportSize({ width: 640, height: 560 });
    await waitForSize((s) => s.cols < big.cols);
    const small = await terminalFit();
    assert.ok(small.inside && small.cols < big.cols && small.rows < big.rows, JSON.stringify(small));
    // Narrower than any usable terminal: held at the minimum rather than collapsing.
    await page.setViewportSize({ width: 120, height: 200 });
    await waitForSize((s) => s.cols < small.cols);
    const tiny = await terminalFit();
    assert.ok(tiny.cols === 20 && tiny.rows >= 6, JSON.stringify(tiny));
    await page.setViewportSize({ width: 1100, height: 800 });
    await waitForSize((s) => s.cols === big.cols);
  });

  test('boots to a shell with a URL disk and a file disk, saves, reloads and restores', async () => {
    await page.goto(`${srv.url}?kernel=guest/Image&initrd=guest/initramfs.cpio&disk=files/url-disk.qcow2,rw`);
    await page.setInputFiles('#disk-files', join(work, 'file-disk.img'));
    await page.click('#boot');
    await waitForTerminal(page, PROMPT_END, BOOT_MS);
    assert.equal(await enabledButtons(), 'pause save power reboot');
    await run('uname -m', /\nriscv64\n/);
    // Linux may name the two virtio disks in either order.
    const both = `(${URL_MARK}\\n${FILE_MARK}|${FILE_MARK}\\n${URL_MARK})\\n`;
    await run('head -c 17 /dev/vda; echo; head -c 17 /dev/vdb; echo', new RegExp(both));
    await run('export MARK=vk$((1000+234)); echo set $MARK', /\nset vk1234\n/);
    // The URL disk is writable copy-on-write: the guest's writes reach the (in-memory) disk,
    // the served file stays as it was.
    await run(
      'for d in vda vdb; do [ $(cat /sys/block/$d/size) = 8192 ] && U=$d; done; ' +
        'printf WRITTEN-OK | dd of=/dev/$U conv=notrunc 2>/dev/null; sync; echo 3 > /proc/sys/vm/drop_caches; ' +
        'echo got $(head -c 10 /dev/$U)',
      /\ngot WRITTEN-OK\n/,
    );
    assert.ok(readFileSync(join(work, 'url-disk.qcow2')).includes(Buffer.from(URL_MARK)));
    assert.ok(!readFileSync(join(work, 'url-disk.qcow2')).includes(Buffer.from('WRITTEN-OK')));
    // Nothing of the disk cached in guest RAM: after the restore the marker must come from the disk.
    await run('sync; echo 3 > /proc/sys/vm/drop_caches; echo dropped', /\ndropped\n/);
    await page.click('#pause');
    await page.locator('#phase', { hasText: 'paused' }).waitFor();
    assert.equal(await enabledButtons(), 'resume save power reboot');
    await page.click('#resume');
    await page.locator('#phase', { hasText: 'running' }).waitFor();
    assert.match((await page.locator('#progress').textContent()) ?? '', /kernel.*MiB of .*MiB.*initrd/);
    assert.match((await page.locator('#stats').textContent()) ?? '', /G instructions · \d+ MIPS/);
    const shot = join(artifacts, 'booted.png');
    await page.screenshot({ path: shot });
    console.log(`# screenshot of the booted page: ${shot}`);

    const snap = join(work, 'browser-disks.snap');
    await saveSnapshot(snap);
    assert.match((await page.locator('#notice').textContent()) ?? '', /snapshot saved as virtkit-.*\.snap/);
    // The URL disk's in-tab changes are in the snapshot: the overlay record holds the marker.
    const saved = decodeSnapshot(new Uint8Array(readFileSync(snap))).state as { meta: { config: SnapshotConfig } };
    const urlRef = saved.meta.config.web?.disks.find((d) => d.kind === 'url');
    assert.ok(urlRef?.overlay, 'the writable URL disk has an overlay record');
    const written = decodeOverlayRecord(urlRef.overlay, 'url disk').blocks;
    assert.ok(written.some(([, b]) => Buffer.from(b).includes('WRITTEN-OK')));
    // `virtkit run` cannot reopen the page's disks: it refuses rather than resuming without them.
    const refused = await virtkitRun(['--restore', snap], '');
    assert.equal(refused.code, 2, refused.err);
    assert.match(refused.err, /virtkit run configuration|browser/);

    // Restoring needs the file disk it was saved with: without it, a clear message.
    await page.goto(srv.url);
    await page.setInputFiles('#restore-file', snap);
    assert.match(await errorBanner(), /saved with the disk file 'file-disk\.img' attached/);

    // The URL disk's ETag from the server is recorded; a snapshot naming another version of the
    // file (as if it were replaced by one of the same size) is refused with the disk named.
    assert.match(urlRef.validator?.etag ?? '', /^".+"$/);
    const changed = join(work, 'changed-disk.snap');
    writeFileSync(
      changed,
      withDiskRefs(new Uint8Array(readFileSync(snap)), (d) =>
        d.kind === 'url' ? { ...d, validator: { ...d.validator!, etag: '"not-this-file"' } } : d,
      ),
    );
    await page.goto(srv.url);
    await page.setInputFiles('#disk-files', join(work, 'file-disk.img'));
    await page.setInputFiles('#restore-file', changed);
    assert.match(
      await errorBanner(),
      /changed-disk\.snap: disk .*url-disk\.qcow2: the file changed on the server since the snapshot was saved/,
    );

    await restoreSnapshot(snap, [join(work, 'file-disk.img')]);
    assert.doesNotMatch(await terminalText(page), /riscv64/, 'a reloaded page starts with an empty terminal');
    // A restored VM has no boot files to reboot from.
    assert.equal(await enabledButtons(), 'pause save power');
    // The file disk is back, and so is what the guest wrote to the URL disk before the snapshot.
    await run(
      'echo again $MARK; head -c 17 /dev/vda; echo; head -c 17 /dev/vdb; echo',
      new RegExp(`\\nagain vk1234\\n[\\s\\S]*${FILE_MARK}`),
    );
    await run('echo 3 > /proc/sys/vm/drop_caches; echo back $(head -c 10 /dev/$U)', /\nback WRITTEN-OK\n/);
    // The power button: the restored guest's acpid hears it and the guest powers off cleanly.
    await page.click('#power');
    await waitForTerminal(page, /power button pressed[\s\S]*reboot: Power down/, CMD_MS);
    await page.locator('#notice', { hasText: 'powered off' }).waitFor({ timeout: CMD_MS });
  });

  test('snapshots cross between Node and the browser in both directions', async () => {
    // Node boots the same guest with virtkit run's Vm and saves a snapshot in its format.
    const guest = await loadGuest();
    assert.ok(guest, 'virtkit web fetched the default guest');
    const node = await bootNodeGuest(guest.kernel, guest.initrd);
    try {
      await node.waitFor(/# (\x1b\[6n)?$/, BOOT_MS);
      node.type('export MARK=node$((40+2)); echo set-$MARK\n');
      await node.waitFor(/\nset-node42\r?\n[\s\S]*# (\x1b\[6n)?$/, CMD_MS);
      writeFileSync(join(work, 'node.snap'), await node.snapshot());
    } finally {
      node.vm.stop();
    }

    // The browser restores Node's snapshot, finds the shell, and saves its own.
    await restoreSnapshot(join(work, 'node.snap'));
    await run('echo from-node $MARK; export MARK2=browser$((5+5))', /\nfrom-node node42\n/);
    const browserSnap = join(work, 'browser.snap');
    await saveSnapshot(browserSnap);

    // `virtkit run --restore` resumes the browser's snapshot and finds both markers.
    const restored = await virtkitRun(['--restore', browserSnap], 'echo both $MARK2 $MARK\npoweroff -f\n');
    assert.equal(restored.code, 0, restored.err);
    assert.match(restored.out, /both browser10 node42/);
  });
});
