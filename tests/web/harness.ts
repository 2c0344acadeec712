/**
 * Shared by the browser end-to-end tests and bench/browser: starts `virtkit web` as a child
 * process and launches Debian's headless Chromium through playwright-core (no browser download).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = process.env.VIRTKIT_CHROMIUM ?? '/usr/bin/chromium';

export interface WebServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `bin/virtkit web --port 0 ...args` and waits for the URL it prints. */
export async function startVirtkitWeb(args: string[] = [], timeoutMs = 120_000): Promise<WebServerProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/virtkit'), 'web', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((ok, ko) => {
    const timer = setTimeout(() => ko(new Error(`virtkit web printed no URL in ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      ko(new Error(`virtkit web exited (${code}) before serving: ${err}`));
    });
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}

export interface ChromiumSession {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile; fails with the package to install when it is missing. */
export async function launchChromium(): Promise<ChromiumSession> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: install Debian's 'chromium' package (apt-get install -y chromium) or set VIRTKIT_CHROMIUM`,
    );
  const profile = mkdtempSync(join(tmpdir(), 'virtkit-chromium-'));
  // A persistent context is how playwright takes --user-data-dir (a fresh one per launch).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1100, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The terminal's text as the page's test hook reports it. */
export function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => (globalThis as unknown as { virtkit: { text(): string } }).virtkit.text());
}

/** Waits until the terminal's text matches re (polling), or throws with the text's tail. */
export async function waitForTerminal(page: Page, re: RegExp, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < end) {
    text = await terminalText(page);
    if (re.test(text)) return text;
    const err = await page.locator('#error').textContent();
    if (err && !(await page.locator('#error').isHidden())) throw new Error(`page shows an error: ${err}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`terminal never matched ${re} in ${timeoutMs} ms; it ends with:\n${text.slice(-800)}`);
}

/** Saves a full-page screenshot as DIR/NAME.png (test artifacts) and says where. */
export async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  process.stderr.write(`screenshot: ${path}\n`);
}

/** The daemon web console's terminal text, as its test hook (virtkitConsole) reports it. */
export function consoleText(page: Page): Promise<string> {
  return page.evaluate(() => (globalThis as unknown as { virtkitConsole: { text(): string } }).virtkitConsole.text());
}

/**
 * Waits until the daemon web console's terminal matches `re` (polling), or throws with its tail;
 * with `poke`, presses Enter every 5 s (a prompt printed before the view attached shows again).
 */
export async function waitForConsole(
  page: Page,
  re: RegExp,
  timeoutMs: number,
  poke = false,
): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  let text = '';
  let lastPoke = Date.now();
  while (Date.now() < end) {
    text = await consoleText(page);
    const m = re.exec(text);
    if (m) return m;
    if (poke && Date.now() - lastPoke > 5000) {
      await page.locator('#terminal .xterm').click();
      await page.keyboard.press('Enter');
      lastPoke = Date.now();
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`the console never matched ${re} in ${timeoutMs} ms; it ends with:\n${text.slice(-1200)}`);
}

/** Types a command in the daemon web console and waits for a line matching `answer` (which its echo must not match). */
export async function typeAtConsole(
  page: Page,
  cmd: string,
  answer: RegExp,
  timeoutMs: number,
): Promise<RegExpExecArray> {
  await page.locator('#terminal .xterm').click();
  await page.keyboard.type(cmd);
  await page.keyboard.press('Enter');
  return waitForConsole(page, new RegExp(answer.source, 'm'), timeoutMs);
}
