/**
 * Boot to the shell prompt: in headless Chromium (the page's Web Worker) vs in Node, same kernel
 * and initrd, same machine, same run.
 *
 *   node --import tsx bench/browser/run.ts [--runs 1]
 *
 * Both sides run the same worker-side code (src/host/browser/vm-controller.ts): in Node it is
 * driven directly with fetch against the same `virtkit web` server, in the browser through the
 * page. The time counted is from the VM's start (after the kernel and initrd are downloaded) to
 * the first shell prompt; the fastest of --runs per side counts (shared, noisy machines). Prints
 * the browser/Node ratio (target <= 1.2) and both sides' MIPS. Needs Debian's chromium.
 */
import { VmController } from '../../src/host/browser/vm-controller.ts';
import type { WorkerMessage } from '../../src/host/browser/protocol.ts';
import { wasmStats } from '../../src/riscv/wasm/wasm-tier.ts';
import { launchChromium, startVirtkitWeb } from '../../tests/web/harness.ts';

const args = process.argv.slice(2);
const runsIdx = args.indexOf('--runs');
const RUNS = runsIdx >= 0 ? Number(args[runsIdx + 1]) : 1;
const TIMEOUT_MS = 900_000;

interface Result {
  ms: number;
  instret: number;
  /** Guest pages translated to WebAssembly by then (0: the wasm tier did not run). */
  wasmPages: number;
}

function nodeBoot(base: string): Promise<Result> {
  const wasmBefore = wasmStats.windows;
  return new Promise((ok, ko) => {
    const timer = setTimeout(() => ko(new Error('node: no prompt in time')), TIMEOUT_MS);
    const c = new VmController((m: WorkerMessage) => {
      // Play the page's terminal: output is shown at once (else the guest is held after OUTPUT_WINDOW).
      if (m.t === 'output') c.handle({ t: 'output-ack', bytes: m.data.length });
      else if (m.t === 'prompt') {
        clearTimeout(timer);
        c.teardown();
        ok({ ms: m.ms, instret: m.instret, wasmPages: m.wasmPages - wasmBefore });
      } else if (m.t === 'error' || m.t === 'stopped') {
        clearTimeout(timer);
        c.teardown();
        ko(new Error(`node: ${m.t === 'error' ? m.message : m.reason}`));
      }
    });
    c.handle({
      t: 'boot',
      config: {
        kernel: base + 'guest/Image',
        initrd: base + 'guest/initramfs.cpio',
        append: 'console=ttyS0',
        memoryMiB: 512,
        cpus: 1,
        disks: [],
      },
      files: [],
    });
  });
}

async function browserBoot(base: string): Promise<Result> {
  const chrome = await launchChromium();
  try {
    await chrome.page.goto(base + '?autostart=1');
    const handle = await chrome.page.waitForFunction(
      () => {
        const v = (
          globalThis as unknown as { virtkit: { promptMs?: number; promptInstret?: number; promptWasmPages?: number } }
        ).virtkit;
        const doc = (
          globalThis as unknown as {
            document: { getElementById(id: string): { hidden: boolean; textContent: string | null } | null };
          }
        ).document;
        const err = doc.getElementById('error');
        if (err && !err.hidden) return { error: err.textContent };
        return v.promptMs !== undefined
          ? { ms: v.promptMs, instret: v.promptInstret, wasmPages: v.promptWasmPages ?? 0 }
          : false;
      },
      undefined,
      { timeout: TIMEOUT_MS, polling: 250 },
    );
    const r = (await handle.jsonValue()) as Result | { error: string };
    if ('error' in r) throw new Error(`browser: ${r.error}`);
    return r;
  } finally {
    await chrome.close();
  }
}

const srv = await startVirtkitWeb();
try {
  const node: Result[] = [];
  const browser: Result[] = [];
  for (let i = 0; i < RUNS; i++) {
    node.push(await nodeBoot(srv.url));
    console.log(`node    run ${i + 1}: ${(node.at(-1)!.ms / 1000).toFixed(1)} s to the prompt`);
    browser.push(await browserBoot(srv.url));
    console.log(`browser run ${i + 1}: ${(browser.at(-1)!.ms / 1000).toFixed(1)} s to the prompt`);
  }
  const best = (rs: Result[]) => rs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const n = best(node);
  const b = best(browser);
  const mips = (r: Result) => (r.instret / (r.ms / 1000) / 1e6).toFixed(1);
  console.log(`\nboot to prompt (best of ${RUNS}):`);
  console.log(
    `  node     ${(n.ms / 1000).toFixed(1)} s  ${(n.instret / 1e9).toFixed(2)} G instructions  ${mips(n)} MIPS  ${n.wasmPages} pages to wasm`,
  );
  console.log(
    `  chromium ${(b.ms / 1000).toFixed(1)} s  ${(b.instret / 1e9).toFixed(2)} G instructions  ${mips(b)} MIPS  ${b.wasmPages} pages to wasm`,
  );
  console.log(`  browser/node time ratio: ${(b.ms / n.ms).toFixed(2)} (target <= 1.2, issue 14)`);
} finally {
  await srv.stop();
}
