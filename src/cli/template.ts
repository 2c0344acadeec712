/**
 * `virtkit template VERB`: templates of the manager (docs/manager.md, "Templates"): a stopped
 * VM's configuration and read-only copies of its disks, from which `virtkit vm create NAME
 * --template T` makes linked clones. Connection flags, errors and exit statuses as `virtkit vm`.
 */
import type { Command } from './command.ts';
import { nearest, type FlagSpec, type ParsedArgs } from './args.ts';
import { UsageError } from './errors.ts';
import { CONNECTION_FLAGS, checkName, parseVerb, splitVerb } from './vm-args.ts';
import { withDaemon, EXIT_NO_DAEMON } from './vm-errors.ts';
import { TemplateApi } from '../manager/client/templates.ts';

const OUTPUT = { output: 'string' } as const;

export const TEMPLATE_VERBS = {
  create: { from: 'string', ...OUTPUT },
  list: { ...OUTPUT, quiet: 'boolean' },
  show: { ...OUTPUT },
  delete: {},
} as const satisfies Record<string, FlagSpec>;
type TemplateVerb = keyof typeof TEMPLATE_VERBS;

export const TEMPLATE_HELP = `usage: virtkit template VERB [options] [--socket PATH | --url URL --token T]

Templates of the manager ('virtkit daemon'): a template holds a stopped VM's configuration and a
flattened, read-only copy of each of its writable disks. 'virtkit vm create NAME --template T'
makes a linked clone of it: a qcow2 overlay per disk, made at once whatever the disk's size.

verbs:
  create NAME --from VM       copy VM (stopped) into template NAME
  list                        templates: source VM, CPUs, memory, disks
  show NAME                   one template
  delete NAME                 delete a template no VM is made from any more

connection (every verb): --socket PATH, --state-dir DIR, --url http://HOST:PORT, --token T
  (as for 'virtkit vm --help')
  -o, --output table|json     a table (default) or the API's JSON

exit status: 0 success, 1 refused (the VM runs, a name taken, a template in use) or failed,
2 bad input (flags, no such VM or template), ${EXIT_NO_DAEMON} no daemon reachable.`;

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

function positionals(a: ParsedArgs, names: string[], verb: string): string[] {
  if (a.positional.length < names.length)
    throw new UsageError(`${verb}: missing ${names[a.positional.length]} (usage: virtkit ${verb} ${names.join(' ')})`);
  if (a.positional.length > names.length)
    throw new UsageError(`${verb}: unexpected argument '${a.positional[names.length]}'`);
  return a.positional;
}

async function runVerb(verb: TemplateVerb, a: ParsedArgs, api: TemplateApi, json: boolean): Promise<number> {
  switch (verb) {
    case 'create': {
      const [name] = positionals(a, ['NAME'], 'template create');
      const from = a.flags.from;
      if (typeof from !== 'string') throw new UsageError('template create: give the VM to copy with --from VM');
      const t = await api.create(checkName(name!, 'template name'), checkName(from));
      if (json) printJson(t);
      else print(`created template ${t.name} from ${from} (${t.disks.length} disk(s))`);
      return 0;
    }
    case 'list': {
      positionals(a, [], 'template list');
      const ts = await api.list();
      if (json) printJson(ts);
      else if (a.flags.quiet) for (const t of ts) print(t.name);
      else {
        const rows = [
          ['NAME', 'FROM', 'CPUS', 'MEMORY', 'DISKS'],
          ...ts.map((t) => [t.name, t.from, String(t.cpus), `${t.memory} MiB`, String(t.disks.length)]),
        ];
        const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        print(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n'));
      }
      return 0;
    }
    case 'show': {
      const [name] = positionals(a, ['NAME'], 'template show');
      const t = await api.get(checkName(name!, 'template name'));
      if (json) printJson(t);
      else
        print(
          [
            `template: ${t.name}`,
            `from:     ${t.from}`,
            `cpus:     ${t.cpus}`,
            `memory:   ${t.memory} MiB`,
            `nics:     ${t.nics}`,
            ...t.disks.map((d, i) => `disk ${i}:   ${d.path} (${d.format}${d.owned ? '' : ', shared'})`),
            `created:  ${t.created}`,
          ].join('\n'),
        );
      return 0;
    }
    case 'delete': {
      const [name] = positionals(a, ['NAME'], 'template delete');
      await api.remove(checkName(name!, 'template name'));
      print(`deleted template ${name}`);
      return 0;
    }
  }
}

export const command: Command = {
  summary: 'templates of the manager: VMs made as linked clones of a stopped VM',
  help: TEMPLATE_HELP,
  handlesHelp: true,
  verbs: Object.fromEntries(Object.entries(TEMPLATE_VERBS).map(([v, spec]) => [v, { ...spec, ...CONNECTION_FLAGS }])),
  names: { verbs: ['show', 'delete'], list: ['template', 'list', '--quiet'] },
  async run(argv) {
    const { verb, rest } = splitVerb(argv);
    const verbs = Object.keys(TEMPLATE_VERBS);
    const help = rest.includes('--help') || rest.includes('-h');
    if (verb === undefined || verb === 'help' || help) {
      if (verb === undefined && !help)
        throw new UsageError(`missing verb (${verbs.join(', ')}; see 'virtkit template --help')`);
      print(TEMPLATE_HELP);
      return 0;
    }
    if (!Object.hasOwn(TEMPLATE_VERBS, verb)) {
      const near = nearest(verb, verbs);
      throw new UsageError(`unknown verb '${verb}'${near ? `: did you mean '${near}'?` : ''} (${verbs.join(', ')})`);
    }
    const v = verb as TemplateVerb;
    const a = parseVerb(TEMPLATE_VERBS[v], rest);
    const f = a.flags;
    return withDaemon(f, (client) => runVerb(v, a, new TemplateApi(client), f.output === 'json'));
  },
};
