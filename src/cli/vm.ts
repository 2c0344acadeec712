/**
 * `virtkit vm VERB`: the manager's command-line client. It parses the verb's flags, finds the
 * daemon (--socket, --url, $VIRTKIT_SOCKET, STATE_DIR/virtkit.sock), makes the API calls
 * (src/manager/client/) and prints tables or the API's JSON. The console is vm-console.ts, the
 * watching verbs (stats, events) vm-monitor.ts.
 */
import { resolve } from 'node:path';
import type { Command } from './command.ts';
import { nearest, type FlagSpec, type ParsedArgs } from './args.ts';
import { CliError, UsageError } from './errors.ts';
import {
  CONNECTION_FLAGS,
  SNAPSHOT_VERBS,
  VM_VERBS,
  checkName,
  createRequest,
  parseSeconds,
  parseVerb,
  positionals,
  splitVerb,
  type SnapshotVerb,
  type VerbContext,
  type VmVerb,
} from './vm-args.ts';
import { VERB_HELP, VM_HELP } from './vm-help.ts';
import { toCliError, withDaemon } from './vm-errors.ts';
import { humanBytes, snapshotList, vmInfo, vmList } from './vm-format.ts';
import { VmApi, type PowerAction } from '../manager/client/vms.ts';
import { DaemonUnreachable } from '../manager/client/errors.ts';
import type { Vm } from '../manager/client/types.ts';

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

/** A one-line account of a VM after an action. */
function vmLine(vm: Vm): string {
  return `${vm.name}: ${vm.state}${vm.pid !== undefined && vm.state !== 'stopped' ? ` (pid ${vm.pid})` : ''}`;
}

/**
 * Runs `action` for each name; a refusal for one name is reported and the others still run
 * (as `kill 1 2 3` does); the status is that of the first failure. No daemon ends it at once.
 */
async function eachName<T>(
  ctx: VerbContext,
  names: string[],
  action: (name: string) => Promise<T>,
  show: (result: T, name: string) => string,
): Promise<number> {
  const results: T[] = [];
  let status = 0;
  for (const name of names) {
    try {
      const r = await action(checkName(name));
      results.push(r);
      if (!ctx.json) print(show(r, name));
    } catch (e) {
      if (e instanceof DaemonUnreachable || names.length === 1) throw e;
      const err = toCliError(e, ctx.endpoint);
      if (!(err instanceof CliError)) throw err;
      process.stderr.write(`virtkit vm: ${name}: ${err.message}\n`);
      if (status === 0) status = err.exitCode;
    }
  }
  if (ctx.json) printJson(names.length === 1 ? results[0] : results);
  return status;
}

function atLeastOne(a: ParsedArgs, verb: string): string[] {
  if (a.positional.length === 0) throw new UsageError(`${verb}: missing NAME (usage: virtkit vm ${verb} NAME...)`);
  return a.positional;
}

const POWER: Record<PowerAction, true> = { start: true, stop: true, pause: true, resume: true, reboot: true };

type Handler = (ctx: VerbContext) => Promise<number>;

const HANDLERS: Record<VmVerb, Handler> = {
  async create(ctx) {
    const [name] = positionals(ctx.args, ['NAME'], 'create');
    const vm = await ctx.api.create(createRequest(name!, ctx.args.flags));
    if (ctx.json) printJson(vm);
    else {
      print(
        `created ${vm.name} (${vm.id}): ${vm.cpus} CPU, ${vm.memory} MiB; start it with 'virtkit vm start ${vm.name}'`,
      );
      for (const w of vm.warnings ?? []) print(`warning: ${w}`);
    }
    return 0;
  },
  async list(ctx) {
    positionals(ctx.args, [], 'list');
    const vms = await ctx.api.list();
    if (ctx.json) printJson(vms);
    else if (ctx.args.flags.quiet) {
      for (const v of vms) print(v.name);
    } else print(vmList(vms));
    return 0;
  },
  async info(ctx) {
    const [name] = positionals(ctx.args, ['NAME'], 'info');
    const vm = await ctx.api.get(checkName(name!));
    if (ctx.json) printJson(vm);
    else print(vmInfo(vm));
    return 0;
  },
  start: (ctx) => power(ctx, 'start'),
  stop: (ctx) => power(ctx, 'stop'),
  pause: (ctx) => power(ctx, 'pause'),
  resume: (ctx) => power(ctx, 'resume'),
  reboot: (ctx) => power(ctx, 'reboot'),
  async shutdown(ctx) {
    const [name] = positionals(ctx.args, ['NAME'], 'shutdown');
    const t = ctx.args.flags.timeout;
    const timeout = typeof t === 'string' ? parseSeconds(t, '--timeout', 1, 3600, true) : undefined;
    if (!ctx.args.flags.wait) return eachName(ctx, [name!], (n) => ctx.api.shutdown(n, timeout), vmLine);
    // --wait: the API answers at once ('stopping'); follow the VM until it is down. The daemon
    // powers it off after the timeout, so this ends; the bound is only against a daemon that
    // never reports it.
    let vm = await ctx.api.shutdown(checkName(name!), timeout);
    const deadline = Date.now() + ((timeout ?? 60) + 30) * 1000;
    while (vm.state === 'stopping' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      vm = await ctx.api.get(vm.name);
    }
    if (ctx.json) printJson(vm);
    else print(`${vm.name}: ${vm.state}${vm.reason ? ` (${vm.reason})` : ''}`);
    return vm.state === 'stopping' ? 1 : 0;
  },
  async console(ctx) {
    const [name] = positionals(ctx.args, ['NAME'], 'console');
    const { attachConsole } = await import('./vm-console.ts');
    return attachConsole(ctx.api, checkName(name!), ctx.args.flags.watch === true);
  },
  snapshot: snapshotVerb,
  async clone(ctx) {
    const [from, to] = positionals(ctx.args, ['NAME', 'NEW'], 'clone');
    if (ctx.args.flags.linked && ctx.args.flags.full) throw new UsageError('give --linked or --full, not both');
    const mode = ctx.args.flags.full ? 'full' : 'linked';
    const vm = await ctx.api.clone(checkName(from!), checkName(to!, 'new VM name'), mode);
    if (ctx.json) printJson(vm);
    else print(`cloned ${from} as ${vm.name} (${mode}): start it with 'virtkit vm start ${vm.name}'`);
    return 0;
  },
  async import(ctx) {
    const [file] = positionals(ctx.args, ['FILE'], 'import');
    const name = ctx.args.flags.name;
    if (typeof name !== 'string') throw new UsageError('import: give the new VM a name with --name NAME');
    const vm = await ctx.api.importOva(resolve(file!), checkName(name));
    if (ctx.json) printJson(vm);
    else {
      print(`imported ${file} as ${vm.name}: ${vm.cpus} CPU, ${vm.memory} MiB, ${vm.disks.length} disk(s)`);
      for (const w of vm.warnings ?? []) print(`warning: ${w}`);
    }
    return 0;
  },
  async export(ctx) {
    const [name, file] = positionals(ctx.args, ['NAME', 'FILE'], 'export');
    const r = (await ctx.api.exportOva(checkName(name!), resolve(file!))) as
      { path?: string; size?: number } | undefined;
    const size = typeof r?.size === 'number' ? ` (${humanBytes(r.size)})` : '';
    print(`exported ${name} to ${r?.path ?? resolve(file!)}${size}`);
    return 0;
  },
  async delete(ctx) {
    const force = ctx.args.flags.force === true;
    return eachName(
      { ...ctx, json: false },
      atLeastOne(ctx.args, 'delete'),
      (n) => ctx.api.remove(n, force),
      (_r, n) => `deleted ${n}`,
    );
  },
  async stats(ctx) {
    const { stats } = await import('./vm-monitor.ts');
    return stats(ctx);
  },
  async events(ctx) {
    const { events } = await import('./vm-monitor.ts');
    return events(ctx);
  },
  async backup(ctx) {
    return (await import('./vm-backup.ts')).backup(ctx);
  },
  async restore(ctx) {
    return (await import('./vm-backup.ts')).restore(ctx);
  },
  async 'backup-schedule'(ctx) {
    return (await import('./vm-backup.ts')).backupSchedule(ctx);
  },
};

function power(ctx: VerbContext, action: PowerAction): Promise<number> {
  if (!POWER[action]) throw new Error(`not a power action: ${action}`);
  return eachName(ctx, atLeastOne(ctx.args, action), (n) => ctx.api.power(n, action), vmLine);
}

async function snapshotVerb(ctx: VerbContext): Promise<number> {
  const [sub, ...rest] = ctx.args.positional;
  const verbs = Object.keys(SNAPSHOT_VERBS);
  if (sub === undefined) throw new UsageError(`snapshot: missing verb (${verbs.join(', ')})`);
  if (!Object.hasOwn(SNAPSHOT_VERBS, sub)) {
    const near = nearest(sub, verbs);
    throw new UsageError(
      `snapshot: unknown verb '${sub}'${near ? `: did you mean '${near}'?` : ''} (${verbs.join(', ')})`,
    );
  }
  const verb = sub as SnapshotVerb;
  // Flags were parsed with every snapshot verb's flags; refuse those this one does not take.
  const allowed = new Set<string>([...Object.keys(CONNECTION_FLAGS), ...Object.keys(SNAPSHOT_VERBS[verb])]);
  for (const f of Object.keys(ctx.args.flags))
    if (!allowed.has(f)) throw new UsageError(`snapshot ${verb}: unknown option '--${f}'`);
  const a = { ...ctx.args, positional: rest };
  const usage = `snapshot ${verb}`;
  if (verb === 'list') {
    const [name] = positionals(a, ['NAME'], usage);
    const snaps = await ctx.api.snapshots(checkName(name!));
    if (ctx.json) printJson(snaps);
    else print(snapshotList(name!, snaps));
    return 0;
  }
  const [name, snap] = positionals(a, ['NAME', 'SNAP'], usage);
  checkName(name!);
  checkName(snap!, 'snapshot name');
  if (verb === 'create') {
    await ctx.api.snapshot(name!, snap!);
    print(`${name}: snapshot ${snap} created`);
  } else if (verb === 'revert') {
    const vm = await ctx.api.revert(name!, snap!);
    print(
      vm && typeof vm === 'object' && 'state' in vm
        ? `${name}: reverted to ${snap}, ${vm.state}`
        : `${name}: reverted to ${snap}`,
    );
  } else {
    await ctx.api.deleteSnapshot(name!, snap!);
    print(`${name}: snapshot ${snap} deleted`);
  }
  return 0;
}

/** Every snapshot verb's flags at once (the sub-verb is a positional word). */
const SNAPSHOT_FLAGS: FlagSpec = Object.assign({}, ...Object.values(SNAPSHOT_VERBS));

/** Whether argv asks for help (before a `--`). */
function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

const withConnection = (spec: FlagSpec): FlagSpec => ({ ...spec, ...CONNECTION_FLAGS });

export const command: Command = {
  summary: 'create, run, control and watch VMs through the manager (virtkit daemon)',
  help: VM_HELP,
  handlesHelp: true,
  verbs: Object.fromEntries(Object.entries(VM_VERBS).map(([v, spec]) => [v, withConnection(spec)])),
  subverbs: {
    snapshot: Object.fromEntries(Object.entries(SNAPSHOT_VERBS).map(([v, spec]) => [v, withConnection(spec)])),
  },
  names: {
    verbs: [
      ...['info', 'start', 'shutdown', 'stop', 'pause', 'resume', 'reboot', 'console', 'clone', 'export', 'delete'],
      ...['stats', 'events', 'backup', 'backup-schedule', ...Object.keys(SNAPSHOT_VERBS).map((v) => `snapshot ${v}`)],
    ],
    list: ['vm', 'list', '--quiet'],
  },
  async run(argv) {
    const { verb, rest } = splitVerb(argv);
    if (verb === undefined) {
      if (wantsHelp(rest)) {
        print(VM_HELP);
        return 0;
      }
      throw new UsageError(`missing verb (${Object.keys(VM_VERBS).join(', ')}; see 'virtkit vm --help')`);
    }
    if (verb === 'help') {
      const topic = rest.find((a) => !a.startsWith('-'));
      if (topic === undefined) print(VM_HELP);
      else if (Object.hasOwn(VERB_HELP, topic)) print(VERB_HELP[topic]!);
      else throw new UsageError(`no help on vm verb '${topic}' (${Object.keys(VM_VERBS).join(', ')})`);
      return 0;
    }
    if (!Object.hasOwn(VM_VERBS, verb)) {
      const near = nearest(verb, Object.keys(VM_VERBS));
      throw new UsageError(
        `unknown verb '${verb}'${near ? `: did you mean '${near}'?` : ''} (${Object.keys(VM_VERBS).join(', ')})`,
      );
    }
    if (wantsHelp(rest)) {
      print(VERB_HELP[verb]!);
      return 0;
    }
    const v = verb as VmVerb;
    const args = parseVerb(v === 'snapshot' ? SNAPSHOT_FLAGS : VM_VERBS[v], rest);
    const f = args.flags;
    return withDaemon(f, (client, endpoint) =>
      HANDLERS[v]({ args, api: new VmApi(client), json: f.output === 'json', endpoint }),
    );
  },
};
