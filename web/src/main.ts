/**
 * The page (UI thread): reads what to boot from the query string or a JSON config, shows the
 * serial console in an xterm.js terminal, and drives a Web Worker that runs the VM. The CPU
 * loop never runs here. Every failure the worker reports is shown in the page's error banner.
 */
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import {
  ConfigError,
  configFromJson,
  configFromQuery,
  type BootConfig,
  type UrlDisk,
} from '../../src/host/browser/guest-config.ts';
import type { FileDisk, UiMessage, WorkerMessage } from '../../src/host/browser/protocol.ts';
import { controlStates, type PagePhase } from '../../src/host/browser/controls.ts';
import { fitTerminal } from '../../src/host/browser/terminal-fit.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  phase: $('phase'),
  stats: $('stats'),
  error: $('error'),
  notice: $('notice'),
  setup: $('setup'),
  form: $<HTMLFormElement>('boot-form'),
  kernel: $<HTMLInputElement>('kernel'),
  initrd: $<HTMLInputElement>('initrd'),
  append: $<HTMLInputElement>('append'),
  memory: $<HTMLInputElement>('memory'),
  cpus: $<HTMLInputElement>('cpus'),
  drop: $('drop'),
  diskFiles: $<HTMLInputElement>('disk-files'),
  disks: $('disks'),
  progress: $('progress'),
  pause: $<HTMLButtonElement>('pause'),
  resume: $<HTMLButtonElement>('resume'),
  save: $<HTMLButtonElement>('save'),
  power: $<HTMLButtonElement>('power'),
  reboot: $<HTMLButtonElement>('reboot'),
  restoreFiles: [$<HTMLInputElement>('restore-file'), $<HTMLInputElement>('restore-file2')],
  terminal: $('terminal'),
  termSize: $('term-size'),
};

const term = new Terminal({ convertEol: false, scrollback: 5000, fontSize: 14, cols: 100, rows: 30 });
term.open(el.terminal);

/** Room left for xterm's scrollbar, which overlays the right edge of the text. */
const SCROLLBAR_PX = 14;

/**
 * Sizes the terminal to its box. Only the page's terminal changes: a serial console has no size
 * the guest could be told, so programs in the guest keep assuming what `stty` says there.
 */
function fitToWindow(): void {
  const screen = term.element?.querySelector<HTMLElement>('.xterm-screen');
  if (!screen) return;
  const cell = screen.getBoundingClientRect();
  const css = getComputedStyle(el.terminal);
  const px = (v: string) => parseFloat(v) || 0;
  const size = fitTerminal({
    width: el.terminal.clientWidth - px(css.paddingLeft) - px(css.paddingRight),
    height: el.terminal.clientHeight - px(css.paddingTop) - px(css.paddingBottom),
    cellWidth: cell.width / term.cols,
    cellHeight: cell.height / term.rows,
    reserveWidth: SCROLLBAR_PX,
  });
  if (size && (size.cols !== term.cols || size.rows !== term.rows)) term.resize(size.cols, size.rows);
}
term.onResize(({ cols, rows }) => {
  el.termSize.textContent = `${cols}×${rows}`;
  el.termSize.title =
    `the page's terminal is ${cols} columns by ${rows} rows; a serial console cannot tell the guest, ` +
    `so for full-screen programs run: stty cols ${cols} rows ${rows}`;
});
let fitQueued = false;
const queueFit = () => {
  if (fitQueued) return;
  fitQueued = true;
  requestAnimationFrame(() => {
    fitQueued = false;
    fitToWindow();
  });
};
new ResizeObserver(queueFit).observe(el.terminal);
void document.fonts.ready.then(queueFit);

let worker: Worker | undefined;
let urlDisks: UrlDisk[] = [];
const fileDisks: FileDisk[] = [];
let phase: PagePhase = 'idle';
/** A snapshot was asked for and has not arrived yet: the Save button waits. */
let saving = false;
/** What the last Boot used, for Reboot; none after a restore. */
let lastBoot: { config: BootConfig; files: FileDisk[] } | undefined;
let promptMs: number | undefined;
let promptInstret: number | undefined;
let promptWasmPages: number | undefined;

function showError(message: string): void {
  el.error.textContent = message;
  el.error.hidden = false;
}
function clearError(): void {
  el.error.hidden = true;
  el.error.textContent = '';
}
function notice(message: string): void {
  el.notice.textContent = message;
  el.notice.hidden = !message;
}

function setPhase(p: PagePhase, detail?: string): void {
  phase = p;
  el.phase.textContent = detail ? `${p}: ${detail}` : p;
  updateControls();
  el.setup.classList.toggle('collapsed', p === 'running' || p === 'paused' || p === 'booting');
}

function updateControls(): void {
  const on = controlStates({ phase, saving, haveBootSettings: lastBoot !== undefined });
  el.pause.disabled = !on.pause;
  el.resume.disabled = !on.resume;
  el.save.disabled = !on.save;
  el.power.disabled = !on.power;
  el.reboot.disabled = !on.reboot;
}

function fmtBytes(n: number): string {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
}

function showProgress(what: string, loaded: number, total: number | undefined): void {
  let row = el.progress.querySelector<HTMLDivElement>(`[data-what="${what}"]`);
  if (!row) {
    row = document.createElement('div');
    row.dataset.what = what;
    row.append(document.createElement('span'), document.createElement('progress'), document.createElement('span'));
    el.progress.append(row);
  }
  const [label, bar, text] = row.children as unknown as [HTMLElement, HTMLProgressElement, HTMLElement];
  label.textContent = what;
  if (total) {
    bar.max = total;
    bar.value = loaded;
  } else bar.removeAttribute('value');
  text.textContent = total ? `${fmtBytes(loaded)} of ${fmtBytes(total)}` : fmtBytes(loaded);
}

function renderDisks(): void {
  el.disks.replaceChildren();
  const item = (text: string, writable: boolean, onToggle: (w: boolean) => void, onRemove: () => void) => {
    const li = document.createElement('li');
    const rw = document.createElement('input');
    rw.type = 'checkbox';
    rw.checked = writable;
    rw.title = 'writable: changes are kept in this tab only (copy-on-write in memory)';
    rw.onchange = () => onToggle(rw.checked);
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.textContent = 'remove';
    rm.onclick = () => {
      onRemove();
      renderDisks();
    };
    const rwLabel = document.createElement('label');
    rwLabel.append(rw, ' writable (in memory)');
    li.append(`${text} `, rwLabel, ' ', rm);
    el.disks.append(li);
  };
  urlDisks.forEach((d, i) =>
    item(
      d.url,
      d.writable,
      (w) => (d.writable = w),
      () => urlDisks.splice(i, 1),
    ),
  );
  fileDisks.forEach((d, i) =>
    item(
      `${d.file.name} (${fmtBytes(d.file.size)})`,
      d.writable,
      (w) => (d.writable = w),
      () => fileDisks.splice(i, 1),
    ),
  );
}

function addFiles(files: FileList | null): void {
  for (const file of Array.from(files ?? [])) fileDisks.push({ file, writable: false });
  renderDisks();
}

function fillForm(cfg: BootConfig): void {
  el.kernel.value = cfg.kernel;
  el.initrd.value = cfg.initrd ?? '';
  el.append.value = cfg.append;
  el.memory.value = `${cfg.memoryMiB}M`;
  el.cpus.value = String(cfg.cpus);
  urlDisks = cfg.disks.map((d) => ({ ...d }));
  renderDisks();
}

function formConfig(): BootConfig {
  return configFromJson(
    {
      kernel: el.kernel.value.trim(),
      ...(el.initrd.value.trim() ? { initrd: el.initrd.value.trim() } : {}),
      append: el.append.value,
      memory: el.memory.value || '512M',
      cpus: el.cpus.value || '1',
      disks: urlDisks,
    },
    location.href,
  );
}

/** A fresh worker per boot or restore: replacing a VM frees all its memory at once. */
function newWorker(): Worker {
  worker?.terminate();
  const w = new Worker('dist/worker.js');
  w.onmessage = (ev: MessageEvent<WorkerMessage>) => onWorkerMessage(ev.data);
  w.onerror = (ev) => {
    ev.preventDefault();
    showError(`the VM worker failed: ${ev.message || 'could not load dist/worker.js'}`);
    setPhase('stopped');
  };
  worker = w;
  saving = false;
  promptMs = undefined;
  promptInstret = undefined;
  promptWasmPages = undefined;
  return w;
}

function send(msg: UiMessage, transfer: Transferable[] = []): void {
  worker?.postMessage(msg, transfer);
}

function boot(config: BootConfig): void {
  clearError();
  notice('');
  el.progress.replaceChildren();
  term.reset();
  newWorker();
  lastBoot = { config, files: fileDisks.slice() };
  send({ t: 'boot', config, files: lastBoot.files });
  setPhase('starting');
  term.focus();
}

async function restoreFrom(file: File): Promise<void> {
  clearError();
  notice('');
  const bytes = new Uint8Array(await file.arrayBuffer());
  term.reset();
  newWorker();
  // A restored VM has no boot files: Reboot stays off until the next Boot.
  lastBoot = undefined;
  send({ t: 'restore', bytes, name: file.name, files: fileDisks.slice() }, [bytes.buffer]);
  setPhase('restoring', file.name);
  term.focus();
}

function downloadSnapshot(bytes: Uint8Array): void {
  const name = `virtkit-${new Date().toISOString().replace(/[:.]/g, '-')}.snap`;
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  notice(`snapshot saved as ${name} (${fmtBytes(bytes.length)})`);
}

function onWorkerMessage(m: WorkerMessage): void {
  switch (m.t) {
    case 'phase':
      setPhase(m.phase, m.detail);
      break;
    case 'progress':
      showProgress(m.what, m.loaded, m.total);
      break;
    case 'output': {
      // The worker holds the guest's output while too much of it waits here: say what was shown.
      const bytes = m.data.length;
      term.write(m.data, () => send({ t: 'output-ack', bytes }));
      break;
    }
    case 'stats':
      el.stats.textContent =
        `${(m.instret / 1e9).toFixed(2)} G instructions · ${m.mips.toFixed(0)} MIPS · ${m.seconds.toFixed(0)} s` +
        (promptMs !== undefined ? ` · prompt after ${(promptMs / 1000).toFixed(1)} s` : '');
      break;
    case 'prompt':
      promptMs = m.ms;
      promptInstret = m.instret;
      promptWasmPages = m.wasmPages;
      break;
    case 'snapshot':
      saving = false;
      updateControls();
      downloadSnapshot(m.bytes);
      break;
    case 'error':
      if (saving) {
        saving = false;
        notice('');
        updateControls();
      }
      showError(m.message);
      break;
    case 'stopped':
      notice(`VM ${m.reason}`);
      break;
  }
}

term.onData((s) => send({ t: 'input', data: new TextEncoder().encode(s) }));
term.onBinary((s) => send({ t: 'input', data: Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff) }));

el.form.onsubmit = (ev) => {
  ev.preventDefault();
  try {
    boot(formConfig());
  } catch (e) {
    showError((e as Error).message);
  }
};
el.pause.onclick = () => send({ t: 'pause' });
el.resume.onclick = () => send({ t: 'resume' });
el.power.onclick = () => send({ t: 'power-button' });
el.save.onclick = () => {
  saving = true;
  updateControls();
  notice('saving a snapshot…');
  send({ t: 'save' });
};
el.reboot.onclick = () => {
  if (lastBoot) boot(lastBoot.config);
};
for (const input of el.restoreFiles) {
  input.onchange = () => {
    const f = input.files?.[0];
    input.value = '';
    if (f) void restoreFrom(f);
  };
}
el.diskFiles.onchange = () => {
  addFiles(el.diskFiles.files);
  el.diskFiles.value = '';
};
// Files dropped anywhere on the page become disks; while a VM runs they wait for the next boot.
document.body.ondragover = (ev) => {
  ev.preventDefault();
  el.drop.classList.add('over');
};
document.body.ondragleave = () => el.drop.classList.remove('over');
document.body.ondrop = (ev) => {
  ev.preventDefault();
  el.drop.classList.remove('over');
  const files = ev.dataTransfer?.files ?? null;
  addFiles(files);
  if (files?.length && (phase === 'running' || phase === 'paused'))
    notice(
      `disk ${Array.from(files, (f) => f.name).join(', ')} added: press Reboot to attach it (disks attach at boot)`,
    );
};

/** The page's configuration: query parameters, else ?config=URL, else virtkit.json beside the page. */
async function loadConfig(): Promise<void> {
  const params = new URLSearchParams(location.search);
  let cfg = configFromQuery(params, location.href);
  if (!cfg) {
    const explicit = params.get('config');
    const url = new URL(explicit ?? 'virtkit.json', location.href).href;
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new ConfigError(`cannot reach config URL ${url}: ${(e as Error).message}`);
    }
    if (!res.ok) {
      if (!explicit) return; // no default config: the user fills the form
      throw new ConfigError(
        `config URL ${url}: ${res.status === 404 ? 'not found' : 'request failed'} (HTTP ${res.status})`,
      );
    }
    let doc: unknown;
    try {
      doc = await res.json();
    } catch {
      throw new ConfigError(`config ${url} is not valid JSON`);
    }
    cfg = configFromJson(doc, url);
  }
  fillForm(cfg);
  if (params.get('autostart') === '1') boot(cfg);
}

/** Hooks for tests and the benchmark: the terminal's text and the boot-to-prompt time. */
(window as unknown as { virtkit: object }).virtkit = {
  text(): string {
    const buf = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n').replace(/\n+$/, '');
  },
  get phase() {
    return phase;
  },
  get size() {
    return { cols: term.cols, rows: term.rows };
  },
  get promptMs() {
    return promptMs;
  },
  get promptWasmPages() {
    return promptWasmPages;
  },
  get promptInstret() {
    return promptInstret;
  },
};

setPhase('idle');
loadConfig().catch((e) => showError((e as Error).message));
