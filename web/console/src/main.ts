/**
 * The web console's page (docs/web-console.md): a login with the daemon's token, the VM list
 * with live state and metrics, and a page per VM with its console, events, snapshots and charts.
 * Routes are in the URL's hash (#/ and #/vm/NAME), so the daemon serves one HTML file.
 *
 * Live data: one GET /v1/events stream (read with fetch: EventSource cannot send the token)
 * refreshes the list on every lifecycle event, and one poller samples GET /v1/vms/{name}/stats
 * of each running VM every POLL_MS into its StatsHistory, which the list and the charts show.
 */
import '@xterm/xterm/css/xterm.css';
import { Api, ApiFailure, type Vm } from './api.ts';
import { StatsHistory, formatBytes } from './stats.ts';
import { VM_ACTIONS, actionRequest, canAct, confirmation, type VmAction } from './actions.ts';
import { $, ask, h, showError } from './dom.ts';
import { ConsoleView } from './console-view.ts';
import { Charts } from './charts.ts';
import type { VmEvent } from './sse.ts';
import { TabVm, type TabVmView } from './tab-vm.ts';

const TOKEN_KEY = 'virtkit.token';
const POLL_MS = 5000;
const NAME_PATTERN = '[A-Za-z0-9][A-Za-z0-9._\\-]{0,62}';

let api: Api;
let vms: Vm[] = [];
const histories = new Map<string, StatsHistory>();
/** Long operations (snapshot, clone, import, delete, revert) by VM name: shown and block buttons. */
const busy = new Map<string, { what: string; since: number }>();
const opLog: { text: string; state: 'running' | 'done' | 'failed'; since: number; ended?: number }[] = [];
let page: { kind: 'list' } | { kind: 'vm'; name: string; view: VmPage } = { kind: 'list' };
let eventsAbort: AbortController | undefined;
let pollTimer: ReturnType<typeof setInterval> | undefined;
/** VMs moved into this tab (tab-vm.ts), by name: they outlive the VM page that moved them. */
const tabVms = new Map<string, TabVm>();
const liveTabVms = () => [...tabVms.values()].filter((t) => t.live);
// Leaving the page ends the VMs running in it: ask first, and tell the daemon at once if so.
window.addEventListener('beforeunload', (e) => {
  if (liveTabVms().length) e.preventDefault();
});
window.addEventListener('pagehide', () => {
  for (const t of liveTabVms()) t.abandonOnUnload();
});

// ---------------------------------------------------------------- login

function showLogin(message = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  eventsAbort?.abort();
  clearInterval(pollTimer);
  if (page.kind === 'vm') page.view.dispose();
  page = { kind: 'list' };
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $<HTMLInputElement>('token').focus();
}

async function login(token: string): Promise<void> {
  const candidate = new Api(token);
  try {
    await candidate.call('GET', '/v1/version');
  } catch (e) {
    showLogin(
      e instanceof ApiFailure && e.status === 401
        ? 'The daemon refused this token.'
        : `Cannot reach the daemon: ${(e as Error).message}`,
    );
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  api = new Api(token, () => showLogin('The daemon refused the token (was it replaced?). Log in again.'));
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  await refresh();
  followEvents();
  pollTimer = setInterval(() => void poll(), POLL_MS);
  void poll();
  route();
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('token');
  const token = input.value.trim();
  input.value = '';
  void login(token);
});
$('logout').addEventListener('click', () => showLogin());
$('error').addEventListener('click', () => showError(''));

// ---------------------------------------------------------------- live data

async function refresh(): Promise<void> {
  vms = await api.vms();
  for (const name of histories.keys()) if (!vms.some((v) => v.name === name)) histories.delete(name);
  render();
}

function followEvents(): void {
  const abort = new AbortController();
  eventsAbort = abort;
  const again = () => {
    if (abort.signal.aborted) return;
    $('conn').textContent = 'events: reconnecting…';
    setTimeout(followEvents, 3000);
  };
  $('conn').textContent = 'events: live';
  api.follow((e) => onEvent(e), abort.signal).then(again, again);
}

function onEvent(e: VmEvent): void {
  if (page.kind === 'vm' && page.name === e.vm) page.view.event(e);
  void refresh()
    // A VM that starts gets its first figures now rather than at the next round.
    .then(() => (e.state === 'running' && e.previous !== 'running' ? poll() : undefined))
    .catch((err: Error) => showError(err.message));
}

async function poll(): Promise<void> {
  const now = Date.now();
  await Promise.all(
    vms.map(async (vm) => {
      let h = histories.get(vm.name);
      if (vm.state !== 'running' && vm.state !== 'paused') {
        if (h) h.add(now, { state: vm.state }); // a gap in the charts
        return;
      }
      if (!h) histories.set(vm.name, (h = new StatsHistory()));
      try {
        h.add(now, await api.stats(vm.name));
      } catch {
        // stopped between the list and the request: the next event refreshes the list
      }
    }),
  );
  render();
}

// ---------------------------------------------------------------- actions

/** Runs a long operation on `vm`, shown in the operations list while it runs. */
async function longOp<T>(vm: string, what: string, fn: () => Promise<T>): Promise<T | undefined> {
  const entry = {
    text: `${what}`,
    state: 'running' as 'running' | 'done' | 'failed',
    since: Date.now(),
    ended: undefined as number | undefined,
  };
  opLog.unshift(entry);
  opLog.length = Math.min(opLog.length, 8);
  busy.set(vm, { what, since: entry.since });
  render();
  try {
    const r = await fn();
    entry.state = 'done';
    return r;
  } catch (e) {
    entry.state = 'failed';
    entry.text += `: ${(e as Error).message}`;
    showError((e as Error).message);
    return undefined;
  } finally {
    entry.ended = Date.now();
    busy.delete(vm);
    await refresh().catch(() => {});
  }
}

async function act(action: VmAction, vm: Vm): Promise<void> {
  const question = confirmation(action, vm.name, vm.state);
  if (question && !(await ask(question, [], action === 'delete' ? 'Delete' : 'Yes'))) return;
  const e = encodeURIComponent(vm.name);
  if (action === 'snapshot') {
    const v = await ask(
      `Snapshot '${vm.name}'${vm.state === 'running' || vm.state === 'paused' ? ' (disks and RAM)' : ' (disks)'}`,
      [
        {
          name: 'name',
          label: 'Snapshot name',
          value: `snap-${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`,
          pattern: NAME_PATTERN,
        },
      ],
    );
    if (v)
      await longOp(vm.name, `snapshot '${v.name}' of ${vm.name}`, () =>
        api.call('POST', `/v1/vms/${e}/snapshots`, { name: v.name }),
      );
    if (page.kind === 'vm') void page.view.loadSnapshots();
    return;
  }
  if (action === 'clone') {
    const v = await ask(`Clone '${vm.name}'`, [
      { name: 'name', label: 'New VM name', value: `${vm.name}-clone`, pattern: NAME_PATTERN },
      { name: 'mode', label: 'Mode', value: 'full', options: ['full', 'linked'] },
    ]);
    if (v)
      await longOp(vm.name, `${v.mode} clone of ${vm.name} as ${v.name}`, () =>
        api.call('POST', `/v1/vms/${e}/clone`, v),
      );
    return;
  }
  const req = actionRequest(action, vm.name, vm.state);
  if (action === 'delete') {
    const ok = await longOp(vm.name, `delete ${vm.name}`, () => api.call(req.method, req.path).then(() => true));
    if (ok && page.kind === 'vm') location.hash = '#/';
    return;
  }
  try {
    await api.call(req.method, req.path, req.method === 'POST' ? {} : undefined);
  } catch (err) {
    showError((err as Error).message);
  }
  await refresh().catch(() => {});
}

function actionButtons(vm: Vm): HTMLElement {
  return h(
    'span',
    { class: 'actions' },
    VM_ACTIONS.map((a) =>
      h(
        'button',
        {
          'data-action': a,
          class: a === 'delete' || a === 'stop' ? 'danger' : undefined,
          disabled: !canAct(a, vm.state, busy.has(vm.name)),
          onclick: () => void act(a, vm),
        },
        a,
      ),
    ),
  );
}

// ---------------------------------------------------------------- pages

function route(): void {
  const m = /^#\/vm\/(.+)$/.exec(location.hash);
  const name = m ? decodeURIComponent(m[1]!) : undefined;
  if (page.kind === 'vm' && page.name === name) return;
  if (page.kind === 'vm') page.view.dispose();
  page = name ? { kind: 'vm', name, view: new VmPage(name) } : { kind: 'list' };
  render();
}
window.addEventListener('hashchange', () => {
  if (api) route();
});

function render(): void {
  if (!api) return;
  renderOps();
  if (page.kind === 'list') renderList();
  else {
    const name = page.name;
    page.view.update(vms.find((v) => v.name === name));
  }
}

function renderOps(): void {
  const now = Date.now();
  $('ops').replaceChildren(
    ...opLog.map((o) =>
      h(
        'li',
        { class: `op ${o.state}` },
        o.state === 'running' ? h('span', { class: 'spinner' }) : null,
        `${o.text} — ${o.state === 'running' ? `running for ${Math.round((now - o.since) / 1000)} s` : `${o.state} in ${Math.round(((o.ended ?? now) - o.since) / 1000)} s`}`,
      ),
    ),
  );
}
setInterval(() => {
  if (opLog.some((o) => o.state === 'running')) renderOps();
}, 1000);

function metricCells(vm: Vm): HTMLElement[] {
  const p = histories.get(vm.name)?.latest;
  const running = vm.state === 'running' || vm.state === 'paused';
  const live = running && p !== undefined && p.rss !== null;
  // Running but not sampled yet (the poller runs every POLL_MS): '…'; not running: '–'.
  const cell = (text: string) => h('td', { class: 'num' }, live ? text : running ? '…' : '–');
  const n = (v: number | null | undefined, f: (x: number) => string) => (v == null ? '…' : f(v));
  return [
    cell(n(p?.cpu, (x) => `${x.toFixed(0)} %`)),
    h('td', { class: 'num' }, `${live ? n(p?.rss, (x) => `${x.toFixed(0)} / `) : ''}${vm.memory} MiB`),
    cell(`${n(p?.diskRd, (x) => formatBytes(x))} / ${n(p?.diskWr, (x) => formatBytes(x))} /s`),
    cell(`${n(p?.netRx, (x) => formatBytes(x))} / ${n(p?.netTx, (x) => formatBytes(x))} /s`),
  ];
}

function stateBadge(vm: Vm): HTMLElement {
  const b = busy.get(vm.name);
  return h(
    'span',
    { class: `state ${vm.state}`, title: vm.reason ?? '' },
    b ? `${vm.state} · ${b.what.split(' ')[0]}…` : vm.state,
  );
}

function renderList(): void {
  const main = $('app-main');
  const rows = vms.map((vm) =>
    h(
      'tr',
      { 'data-vm': vm.name },
      h('td', {}, h('a', { href: `#/vm/${encodeURIComponent(vm.name)}` }, vm.name)),
      h('td', {}, stateBadge(vm)),
      ...metricCells(vm),
      h('td', {}, actionButtons(vm)),
    ),
  );
  main.replaceChildren(
    h('h2', {}, 'Virtual machines'),
    vms.length
      ? h(
          'table',
          { class: 'vms' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['name', 'state', 'CPU', 'host RSS / guest RAM', 'disk r / w', 'net rx / tx', ''].map((t) =>
                h('th', {}, t),
              ),
            ),
          ),
          h('tbody', {}, rows),
        )
      : h('p', { class: 'muted' }, 'No VMs yet: create one below.'),
    createForm(),
  );
}

function createForm(): HTMLElement {
  const form = h(
    'form',
    { id: 'create', class: 'panel' },
    h('h3', {}, 'Create a VM'),
    h('label', {}, 'Name ', h('input', { name: 'name', required: true, pattern: NAME_PATTERN, autocomplete: 'off' })),
    h('label', {}, 'Memory (MiB) ', h('input', { name: 'memory', type: 'number', min: 16, max: 4096, value: 256 })),
    h('label', {}, 'CPUs ', h('input', { name: 'cpus', type: 'number', min: 1, max: 8, value: 1 })),
    h(
      'label',
      {},
      'Source ',
      h(
        'select',
        { name: 'source' },
        h('option', { value: 'default' }, 'default guest (Debian kernel + busybox)'),
        h('option', { value: 'image' }, 'disk image on the daemon host'),
      ),
    ),
    h(
      'label',
      {},
      'Image path ',
      h('input', { name: 'path', placeholder: '/absolute/path/on/the/daemon/host.qcow2', autocomplete: 'off' }),
    ),
    h(
      'label',
      {},
      'Extra blank disk (MiB, 0 = none) ',
      h('input', { name: 'disk', type: 'number', min: 0, max: 1048576, value: 0 }),
    ),
    h(
      'p',
      { class: 'muted' },
      'Uploading a disk image from this browser is not possible: the API has no upload. An image is named by its path on the daemon host; the VM gets a qcow2 overlay on it and never writes the image.',
    ),
    h('button', { type: 'submit' }, 'Create'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const get = (k: string) => String(f.get(k) ?? '').trim();
    const body: Record<string, unknown> = {
      name: get('name'),
      memory: Number(get('memory')),
      cpus: Number(get('cpus')),
    };
    if (get('source') === 'image') {
      if (!get('path')) return showError('Give the image path (on the daemon host) or choose the default guest.');
      body.source = { type: 'image', path: get('path') };
    }
    if (Number(get('disk')) > 0) body.disks = [{ size: Number(get('disk')) }];
    void api
      .call('POST', '/v1/vms', body)
      .then(() => {
        form.reset();
        return refresh();
      })
      .catch((e: Error) => showError(e.message));
  });
  const imp = h(
    'form',
    { id: 'import', class: 'panel' },
    h('h3', {}, 'Import an OVA/OVF'),
    h('label', {}, 'Name ', h('input', { name: 'name', required: true, pattern: NAME_PATTERN, autocomplete: 'off' })),
    h(
      'label',
      {},
      'Path on the daemon host ',
      h('input', { name: 'path', required: true, placeholder: '/absolute/path/appliance.ova', autocomplete: 'off' }),
    ),
    h('button', { type: 'submit' }, 'Import'),
  );
  imp.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(imp);
    const name = String(f.get('name')).trim();
    const path = String(f.get('path')).trim();
    void longOp(name, `import ${path} as ${name}`, () => api.call<Vm>('POST', '/v1/vms/import', { name, path })).then(
      (vm) => {
        if (vm?.warnings?.length) showError(`Imported '${name}' with warnings: ${vm.warnings.join('; ')}`);
      },
    );
  });
  return h('div', { class: 'forms' }, form, imp);
}

/** The page of one VM: toolbar, console, snapshots, events and charts. */
class VmPage {
  private readonly root: HTMLElement;
  private readonly head = h('div', { class: 'vm-head' });
  private readonly consoleBox = h('div', { id: 'terminal', class: 'terminal' });
  private readonly consoleStatus = h('span', { id: 'console-status', class: 'muted' });
  private readonly snapshots = h('ul', { id: 'snapshots', class: 'list' });
  private readonly events = h('ol', { id: 'events', class: 'list events' });
  private readonly chartBox = h('div', { id: 'charts', class: 'charts' });
  private readonly consoleView: ConsoleView;
  private charts: Charts | undefined;
  private vm: Vm | undefined;
  private chartedPoints = -1;

  constructor(readonly name: string) {
    this.root = h(
      'div',
      { class: 'vm-page' },
      h('p', {}, h('a', { href: '#/' }, '← all VMs')),
      this.head,
      h(
        'div',
        { class: 'vm-grid' },
        h('section', { class: 'console' }, h('h3', {}, 'Console ', this.consoleStatus), this.consoleBox),
        h('aside', {}, h('h3', {}, 'Snapshots'), this.snapshots, h('h3', {}, 'Events'), this.events),
      ),
      h('h3', {}, 'Metrics (sampled every 5 s while this page is open, up to the last hour)'),
      this.chartBox,
    );
    $('app-main').replaceChildren(this.root);
    this.consoleView = new ConsoleView(
      this.consoleBox,
      this.consoleStatus,
      name,
      sessionStorage.getItem(TOKEN_KEY) ?? '',
    );
    (globalThis as unknown as { virtkitConsole: unknown }).virtkitConsole = {
      text: () => this.consoleView.text(),
      samples: () => histories.get(name)?.length ?? 0,
      tab: () => {
        const t = tabVms.get(name);
        return t ? { phase: t.phaseText, live: t.live, ...t.stats } : undefined;
      },
    };
    const tab = tabVms.get(name);
    if (tab?.live) {
      this.consoleView.attachLocal((b) => tab.input(b));
      tab.attach(this.tabView());
    }
    void this.loadSnapshots();
    void api.events(name).then(
      (list) => {
        for (const e of list) this.event(e);
      },
      (e: Error) => showError(e.message),
    );
  }

  update(vm: Vm | undefined): void {
    if (!vm) {
      this.head.replaceChildren(h('h2', {}, this.name), h('p', {}, 'No such VM (deleted?).'));
      this.consoleView.disconnect();
      return;
    }
    this.vm = vm;
    const tab = tabVms.get(vm.name);
    const here = tab?.live === true;
    const moveButtons = h(
      'span',
      { class: 'actions move' },
      h(
        'button',
        {
          'data-action': 'open-in-tab',
          title: 'Move the running VM into this browser tab (its disks stay on the daemon)',
          disabled: here || busy.has(vm.name) || (vm.state !== 'running' && vm.state !== 'paused'),
          onclick: () => void this.openHere(),
        },
        'open in this tab',
      ),
      h(
        'button',
        {
          'data-action': 'send-back',
          title: 'Move the VM from this tab back to the daemon',
          disabled: !here || busy.has(vm.name),
          onclick: () => void this.sendBack(),
        },
        'send back',
      ),
    );
    this.head.replaceChildren(
      h('h2', {}, vm.name, ' ', stateBadge(vm)),
      h(
        'p',
        { class: 'muted' },
        `${vm.cpus} CPU, ${vm.memory} MiB, source ${vm.source.type}${vm.source.path ? ` ${vm.source.path}` : ''}, ${vm.disks.length} disk(s)${vm.reason ? ` — ${vm.reason}` : ''}`,
      ),
      actionButtons(vm),
      moveButtons,
    );
    if (vm.state === 'running' || vm.state === 'paused') this.consoleView.connect();
    else if (vm.state === 'in-browser' && !this.consoleView.isLocal)
      $('console-status').textContent = 'the VM runs in a browser tab (not this one)';
    let history = histories.get(vm.name);
    if (!history) histories.set(vm.name, (history = new StatsHistory()));
    if (!this.charts) this.charts = new Charts(this.chartBox, history);
    if (history.length !== this.chartedPoints) {
      this.chartedPoints = history.length;
      this.charts.update();
    }
  }

  /** The console shows the VM running in this tab. */
  private tabView(): TabVmView {
    return {
      output: (bytes, done) => this.consoleView.writeLocal(bytes, done),
      phase: (p) => {
        if (this.consoleView.isLocal) $('console-status').textContent = `in this tab: ${p}`;
      },
      ended: (reason) => {
        tabVms.delete(this.name);
        this.consoleView.detachLocal(`ended in this tab: ${reason}`, false);
        // A guest that powered off here: the daemon gets its disks back and records it stopped.
        void api.call('DELETE', `/v1/vms/${encodeURIComponent(this.name)}/browser`).catch(() => undefined);
        render();
      },
      error: (m) => showError(m),
    };
  }

  private async openHere(): Promise<void> {
    // Typing goes to the tab's VM from the start: the daemon's console closes with the move.
    const holder: { tab?: TabVm | undefined } = {};
    this.consoleView.attachLocal((b) => holder.tab?.input(b));
    const tab = (holder.tab = await longOp(this.name, `move ${this.name} into this tab`, () =>
      TabVm.open(api, sessionStorage.getItem(TOKEN_KEY) ?? '', this.name, this.tabView()),
    ));
    if (!tab) {
      this.consoleView.detachLocal('', false);
      render();
      return;
    }
    tabVms.set(this.name, tab);
    render();
  }

  private async sendBack(): Promise<void> {
    const tab = tabVms.get(this.name);
    if (!tab) return;
    const ok = await longOp(this.name, `send ${this.name} back to the daemon`, () => tab.sendBack().then(() => true));
    if (!ok) return;
    tabVms.delete(this.name);
    this.consoleView.detachLocal('back on the daemon', true);
    render();
  }

  event(e: VmEvent): void {
    const change = e.state === e.previous ? '' : `${e.previous ?? '–'} → ${e.state} `;
    const li = h(
      'li',
      {},
      h('time', {}, new Date(e.time).toLocaleTimeString()),
      ` ${change}`,
      e.reason ? h('span', { class: change ? 'muted' : '' }, change ? `(${e.reason})` : e.reason) : null,
    );
    this.events.prepend(li);
    while (this.events.children.length > 200) this.events.lastChild!.remove();
    // A VM that stops (or leaves for a tab) ends its console; 'starting' is a new process
    // coming (after a send-back the console may have connected to it already).
    const ends = e.state !== 'running' && e.state !== 'paused' && e.state !== 'starting';
    if (ends && e.state !== e.previous && !this.consoleView.isLocal) this.consoleView.disconnect();
  }

  async loadSnapshots(): Promise<void> {
    let list;
    try {
      list = await api.snapshots(this.name);
    } catch (e) {
      if (!(e instanceof ApiFailure && e.status === 404)) showError((e as Error).message);
      return;
    }
    this.snapshots.replaceChildren(
      ...(list.length ? [] : [h('li', { class: 'muted' }, 'none')]),
      ...list.map((s) =>
        h(
          'li',
          { 'data-snapshot': s.name },
          `${s.name} `,
          h(
            'span',
            { class: 'muted' },
            `${new Date(s.created).toLocaleString()}${s.vmState ? ', with RAM' : ', disks only'} `,
          ),
          h('button', { 'data-action': 'revert', onclick: () => void this.snapshotAction('revert', s.name) }, 'revert'),
          h(
            'button',
            {
              'data-action': 'delete-snapshot',
              class: 'danger',
              onclick: () => void this.snapshotAction('delete-snapshot', s.name),
            },
            'delete',
          ),
        ),
      ),
    );
  }

  private async snapshotAction(action: 'revert' | 'delete-snapshot', snap: string): Promise<void> {
    const state = this.vm?.state ?? 'stopped';
    if (!(await ask(confirmation(action, this.name, state, snap)!, [], action === 'revert' ? 'Revert' : 'Delete')))
      return;
    const path = `/v1/vms/${encodeURIComponent(this.name)}/snapshots/${encodeURIComponent(snap)}`;
    if (action === 'revert') {
      this.consoleView.disconnect();
      await longOp(this.name, `revert ${this.name} to '${snap}'`, () => api.call('POST', `${path}/revert`, {}));
    } else await longOp(this.name, `delete snapshot '${snap}' of ${this.name}`, () => api.call('DELETE', path));
    await this.loadSnapshots();
  }

  dispose(): void {
    tabVms.get(this.name)?.attach(undefined);
    this.consoleView.dispose();
    this.charts?.dispose();
  }
}

// ---------------------------------------------------------------- start

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void login(saved);
else showLogin();
