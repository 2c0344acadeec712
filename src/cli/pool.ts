/**
 * `virtkit pool VERB`: the manager's resource pools (docs/manager.md, "Pools"): create one with
 * quotas, list them with their usage, show one, change its quotas, delete an empty one. Talks to
 * the daemon as `virtkit vm` does (same connection flags, errors and exit statuses).
 */
import type { Command } from './command.ts';
import { nearest, parseSize, type FlagSpec, type ParsedArgs } from './args.ts';
import { UsageError } from './errors.ts';
import { CONNECTION_FLAGS, checkName, parseVerb, splitVerb } from './vm-args.ts';
import { withDaemon, EXIT_NO_DAEMON } from './vm-errors.ts';
import { humanBytes } from './vm-format.ts';
import { PoolApi, type QuotaChange } from '../manager/client/pools.ts';
import type { Pool, PoolQuota } from '../manager/client/types.ts';

const QUOTA_FLAGS = { vcpus: 'string', memory: 'string', disk: 'string', vms: 'string' } as const;
const OUTPUT = { output: 'string' } as const;

export const POOL_VERBS = {
  create: { ...QUOTA_FLAGS, ...OUTPUT },
  list: { ...OUTPUT, quiet: 'boolean' },
  show: { ...OUTPUT },
  set: { ...QUOTA_FLAGS, ...OUTPUT },
  delete: {},
} as const satisfies Record<string, FlagSpec>;
type PoolVerb = keyof typeof POOL_VERBS;

export const POOL_HELP = `usage: virtkit pool VERB [options] [--socket PATH | --url URL --token T]

Resource pools of the manager ('virtkit daemon'). Every VM belongs to one ('default' unless
'virtkit vm create --pool NAME'). A pool may limit the VMs defined in it (--vms) and the size of
their disks (--disk): checked when a VM is created in it; and the vCPUs and memory of its running
VMs (--vcpus, --memory): checked when one starts. A VM beyond a quota is refused, naming it.

verbs:
  create NAME [--vcpus N] [--memory SIZE] [--disk SIZE] [--vms N]   a new pool (no flag: unlimited)
  list                        pools with their use and quotas (use/quota, '-' = unlimited)
  show NAME                   one pool
  set NAME [--vcpus N|none] [--memory SIZE|none] [--disk SIZE|none] [--vms N|none]
                              change quotas ('none' removes one); a quota below the current use
                              refuses new VMs and starts only
  delete NAME                 delete a pool without VMs (not 'default')

SIZE: 512M, 2G, 1T (bytes with a K, M, G or T suffix).

connection (every verb): --socket PATH, --state-dir DIR, --url http://HOST:PORT, --token T
  (as for 'virtkit vm --help')
  -o, --output table|json     a table (default) or the API's JSON

exit status: 0 success, 1 refused (a name taken, a pool with VMs) or failed, 2 bad input (flags,
no such pool), ${EXIT_NO_DAEMON} no daemon reachable.`;

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

/** Quota flags as the API's quota: a count or bytes; `none` (set only) removes the limit. */
function quotaFlags(f: ParsedArgs['flags'], allowNone: boolean): QuotaChange {
  const q: QuotaChange = {};
  for (const k of Object.keys(QUOTA_FLAGS) as Array<keyof PoolQuota>) {
    const v = f[k];
    if (typeof v !== 'string') continue;
    if (v === 'none') {
      if (!allowNone) throw new UsageError(`--${k} none: a new pool is unlimited without the flag`);
      q[k] = null;
    } else if (k === 'memory' || k === 'disk') q[k] = parseSize(v, `--${k}`);
    else {
      if (!/^\d+$/.test(v))
        throw new UsageError(`invalid --${k} '${v}' (expected a whole number${allowNone ? ' or none' : ''})`);
      q[k] = Number(v);
    }
  }
  return q;
}

/** Exactly the named positional arguments. */
function positionals(a: ParsedArgs, names: string[], verb: string): string[] {
  if (a.positional.length < names.length)
    throw new UsageError(`${verb}: missing ${names[a.positional.length]} (usage: virtkit ${verb} ${names.join(' ')})`);
  if (a.positional.length > names.length)
    throw new UsageError(`${verb}: unexpected argument '${a.positional[names.length]}'`);
  return a.positional;
}

const show = (k: keyof PoolQuota, n: number | undefined) =>
  n === undefined ? '-' : k === 'memory' || k === 'disk' ? humanBytes(n) : String(n);

function poolTable(pools: Pool[]): string {
  const rows = [['NAME', 'VMS', 'VCPUS', 'MEMORY', 'DISK']];
  for (const p of pools)
    rows.push([
      p.name,
      ...(['vms', 'vcpus', 'memory', 'disk'] as const).map((k) => `${show(k, p.usage[k])}/${show(k, p.quota[k])}`),
    ]);
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n');
}

function poolText(p: Pool): string {
  const line = (k: keyof PoolQuota, label: string) =>
    `${label.padEnd(8)} ${show(k, p.usage[k])} of ${p.quota[k] === undefined ? 'unlimited' : show(k, p.quota[k])}`;
  return [
    `pool:    ${p.name}`,
    line('vms', 'vms:'),
    line('vcpus', 'vcpus:'),
    line('memory', 'memory:'),
    line('disk', 'disk:'),
    `created: ${p.created}`,
  ].join('\n');
}

async function runVerb(verb: PoolVerb, a: ParsedArgs, api: PoolApi, json: boolean): Promise<number> {
  const out = (p: Pool, text: string) => (json ? printJson(p) : print(text));
  switch (verb) {
    case 'create': {
      const [name] = positionals(a, ['NAME'], 'pool create');
      const p = await api.create(checkName(name!, 'pool name'), quotaFlags(a.flags, false) as PoolQuota);
      out(p, `created pool ${p.name}`);
      return 0;
    }
    case 'list': {
      positionals(a, [], 'pool list');
      const pools = await api.list();
      if (json) printJson(pools);
      else if (a.flags.quiet) for (const p of pools) print(p.name);
      else print(poolTable(pools));
      return 0;
    }
    case 'show': {
      const [name] = positionals(a, ['NAME'], 'pool show');
      const p = await api.get(checkName(name!, 'pool name'));
      out(p, poolText(p));
      return 0;
    }
    case 'set': {
      const [name] = positionals(a, ['NAME'], 'pool set');
      const q = quotaFlags(a.flags, true);
      if (Object.keys(q).length === 0)
        throw new UsageError('pool set: give at least one of --vcpus, --memory, --disk, --vms');
      const p = await api.set(checkName(name!, 'pool name'), q);
      out(p, poolText(p));
      return 0;
    }
    case 'delete': {
      const [name] = positionals(a, ['NAME'], 'pool delete');
      await api.remove(checkName(name!, 'pool name'));
      print(`deleted pool ${name}`);
      return 0;
    }
  }
}

export const command: Command = {
  summary: 'resource pools of the manager: quotas on vCPUs, memory, disk and VMs',
  help: POOL_HELP,
  handlesHelp: true,
  verbs: Object.fromEntries(Object.entries(POOL_VERBS).map(([v, spec]) => [v, { ...spec, ...CONNECTION_FLAGS }])),
  names: { verbs: ['show', 'set', 'delete'], list: ['pool', 'list', '--quiet'] },
  async run(argv) {
    const { verb, rest } = splitVerb(argv);
    const verbs = Object.keys(POOL_VERBS);
    if (verb === undefined || verb === 'help' || rest.includes('--help') || rest.includes('-h')) {
      if (verb === undefined && !rest.includes('--help') && !rest.includes('-h'))
        throw new UsageError(`missing verb (${verbs.join(', ')}; see 'virtkit pool --help')`);
      print(POOL_HELP);
      return 0;
    }
    if (!Object.hasOwn(POOL_VERBS, verb)) {
      const near = nearest(verb, verbs);
      throw new UsageError(`unknown verb '${verb}'${near ? `: did you mean '${near}'?` : ''} (${verbs.join(', ')})`);
    }
    const v = verb as PoolVerb;
    const a = parseVerb(POOL_VERBS[v], rest);
    const f = a.flags;
    return withDaemon(f, (client) => runVerb(v, a, new PoolApi(client), f.output === 'json'));
  },
};
