/**
 * Command-line parsing for `virtkit vm VERB`: each verb's flags (also what help tests and shell
 * completion read), the connection flags every verb takes (before or after the verb), and the
 * translation of `vm create`'s flags, spelled as `virtkit run` spells them, into the API's body.
 */
import { parseArgs, parseMemorySize, parseSize, type FlagSpec, type ParsedArgs } from './args.ts';
import { UsageError } from './errors.ts';
import { NetConfigError, parseNetSpec } from '../host/node/net/netdev.ts';
import type { CreateRequest, DiskRequest } from '../manager/client/types.ts';
import type { VmApi } from '../manager/client/vms.ts';
import type { Endpoint } from '../manager/client/endpoint.ts';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { describeError } from '../host/node/errno-words.ts';

/** How to reach the daemon: accepted by every verb. */
export const CONNECTION_FLAGS = { socket: 'string', url: 'string', token: 'string', 'state-dir': 'string' } as const;
const OUTPUT = { output: 'string' } as const;

/** Each verb's own flags (the connection flags come on top). */
export const VM_VERBS = {
  create: {
    memory: 'string',
    cpus: 'string',
    disk: 'list',
    net: 'list',
    kernel: 'string',
    initrd: 'string',
    append: 'string',
    image: 'string',
    pool: 'string',
    template: 'string',
    hostname: 'string',
    'ssh-key': 'list',
    password: 'string',
    ...OUTPUT,
  },
  list: { ...OUTPUT, quiet: 'boolean' },
  info: { ...OUTPUT },
  start: { ...OUTPUT },
  shutdown: { timeout: 'string', wait: 'boolean', ...OUTPUT },
  stop: { ...OUTPUT },
  pause: { ...OUTPUT },
  resume: { ...OUTPUT },
  reboot: { ...OUTPUT },
  console: { watch: 'boolean' },
  snapshot: {},
  clone: { linked: 'boolean', full: 'boolean', ...OUTPUT },
  import: { name: 'string', ...OUTPUT },
  export: {},
  delete: { force: 'boolean' },
  stats: { watch: 'boolean', interval: 'string', ...OUTPUT },
  events: { follow: 'boolean', ...OUTPUT },
  backup: { ram: 'boolean', full: 'boolean', background: 'boolean', ...OUTPUT },
  restore: { name: 'string', ...OUTPUT },
  'backup-schedule': {
    every: 'string',
    keep: 'string',
    dest: 'string',
    full: 'boolean',
    ram: 'boolean',
    remove: 'boolean',
    ...OUTPUT,
  },
} as const satisfies Record<string, FlagSpec>;

export type VmVerb = keyof typeof VM_VERBS;

/** `vm snapshot VERB`'s verbs and their flags. */
export const SNAPSHOT_VERBS = {
  create: {},
  list: { ...OUTPUT },
  revert: {},
  delete: {},
} as const satisfies Record<string, FlagSpec>;

export type SnapshotVerb = keyof typeof SNAPSHOT_VERBS;

export const ALIASES = { o: 'output', f: 'force', q: 'quiet', w: 'watch' };

/** Connection flags that take a value, so the verb can be found after `--socket PATH`. */
const VALUED_CONNECTION = new Set(Object.keys(CONNECTION_FLAGS).map((n) => `--${n}`));

/**
 * Splits `vm` argv into the verb and the rest: the verb is the first word that is neither a flag
 * nor the value of a connection flag (`virtkit vm --socket S list` and `vm list --socket S` alike).
 */
export function splitVerb(argv: string[]): { verb: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED_CONNECTION.has(a)) {
      i++;
      continue;
    }
    if (a === '--') return { verb: argv[i + 1], rest: [...argv.slice(0, i), ...argv.slice(i + 2)] };
    if (!a.startsWith('-')) return { verb: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { verb: undefined, rest: argv };
}

/** Parses one verb's arguments (its flags plus the connection flags). */
export function parseVerb(spec: FlagSpec, argv: string[]): ParsedArgs {
  const a = parseArgs(argv, { ...CONNECTION_FLAGS, ...spec }, ALIASES);
  const output = a.flags.output;
  if (output !== undefined && output !== 'json' && output !== 'table')
    throw new UsageError(`invalid --output '${String(output)}' (expected table or json)`);
  return a;
}

/** Exactly `names.length` positional arguments, named in the message when missing. */
export function positionals(a: ParsedArgs, names: string[], verb: string): string[] {
  if (a.positional.length < names.length)
    throw new UsageError(
      `${verb}: missing ${names[a.positional.length]} (usage: virtkit vm ${verb} ${names.join(' ')})`,
    );
  if (a.positional.length > names.length)
    throw new UsageError(`${verb}: unexpected argument '${a.positional[names.length]}'`);
  return a.positional;
}

/** VM names as the API accepts them (checked here too, so a typo gets its message before a round trip). */
export const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkName(name: string, what = 'VM name'): string {
  if (!VM_NAME.test(name))
    throw new UsageError(
      `invalid ${what} '${name}' (1-63 letters, digits, '.', '_' or '-', starting with a letter or digit)`,
    );
  return name;
}

/** Seconds in min..max (shutdown --timeout: whole seconds, 1..3600 as the API takes; stats --interval). */
export function parseSeconds(text: string, what: string, min = 0, max = 86400, whole = false): number {
  const n = Number(text);
  const form = whole ? /^\d+$/ : /^\d+(\.\d+)?$/;
  if (!form.test(text.trim()) || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`invalid ${what} '${text}' (expected ${whole ? 'whole ' : ''}seconds, ${min}..${max})`);
  return n;
}

const MiB = 1024 * 1024;

function wholeMiB(bytes: number, what: string, text: string): number {
  if (bytes <= 0 || bytes % MiB !== 0)
    throw new UsageError(`${what} '${text}' is not a whole number of MiB (e.g. 128M, 1G)`);
  return bytes / MiB;
}

/** `--disk PATH[,format=F][,readonly]` (an existing image) or `--disk size=SIZE[,format=qcow2]` (a new one). */
export function parseCreateDisk(text: string): DiskRequest {
  const parts = text.split(',');
  const keyed = /^(file|format|readonly|size)(=|$)/;
  const path = keyed.test(parts[0]!) ? undefined : parts.shift();
  let file = path;
  let format: string | undefined;
  let readonly = false;
  let size: number | undefined;
  for (const p of parts) {
    const eq = p.indexOf('=');
    const [k, v] = eq < 0 ? [p, undefined] : [p.slice(0, eq), p.slice(eq + 1)];
    if (k === 'file' && v && file === undefined) file = v;
    else if (k === 'format' && v) format = v;
    else if (k === 'readonly' && (v === undefined || v === 'on' || v === 'true')) readonly = true;
    else if (k === 'readonly' && (v === 'off' || v === 'false')) readonly = false;
    else if (k === 'size' && v && size === undefined) size = wholeMiB(parseSize(v, 'disk size'), 'disk size', v);
    else
      throw new UsageError(
        `--disk '${text}': unknown option '${p}' (expected FILE[,format=FMT][,readonly] or size=SIZE[,format=qcow2])`,
      );
  }
  if (size !== undefined) {
    if (file !== undefined) throw new UsageError(`--disk '${text}': give a FILE or size=, not both`);
    if (readonly) throw new UsageError(`--disk '${text}': a new disk cannot be readonly`);
    if (format !== undefined && format !== 'qcow2')
      throw new UsageError(`--disk '${text}': new disks are qcow2 (format=${format} is not)`);
    return { size, ...(format ? { format: 'qcow2' as const } : {}) };
  }
  if (!file) throw new UsageError(`--disk '${text}': missing file name or size=`);
  return { path: resolve(file), ...(format ? { format } : {}), ...(readonly ? { readonly } : {}) };
}

/** `--net user[,hostfwd=...]...`: the manager's NICs are user-mode NAT with host forwards. */
export function parseCreateNet(text: string): { hostfwd?: string[] } {
  try {
    parseNetSpec(text);
  } catch (e) {
    if (e instanceof NetConfigError) throw new UsageError(e.message);
    throw e;
  }
  const [head, ...opts] = text.split(',');
  const hostfwd: string[] = [];
  for (const o of opts) {
    if (head === 'user' && o.startsWith('hostfwd=')) hostfwd.push(o.slice('hostfwd='.length));
    else
      throw new UsageError(
        `--net '${text}': a managed VM's NIC is 'user[,hostfwd=...]...' ('${o}' is for 'virtkit run' only)`,
      );
  }
  if (head !== 'user')
    throw new UsageError(`--net '${text}': a managed VM's NIC is 'user[,hostfwd=...]...' (user-mode NAT)`);
  return hostfwd.length ? { hostfwd } : {};
}

/** The public keys in an OpenSSH key file (authorized_keys or a .pub): its non-comment lines. */
function readKeyFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--ssh-key ${file}: ${describeError(e)}`);
  }
  if (/PRIVATE KEY/.test(text)) throw new UsageError(`--ssh-key ${file}: this is a private key: give the public one (.pub)`);
  const keys = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (!keys.length) throw new UsageError(`--ssh-key ${file}: no public key in the file`);
  return keys;
}

/** `vm create NAME [flags]` as the body of POST /v1/vms. */
export function createRequest(name: string, f: ParsedArgs['flags']): CreateRequest {
  const body: CreateRequest = { name: checkName(name) };
  if (typeof f.pool === 'string') body.pool = checkName(f.pool, 'pool name');
  if (typeof f.template === 'string') {
    if (f.kernel !== undefined || f.image !== undefined || f.disk !== undefined)
      throw new UsageError('--template brings the source and disks: no --kernel, --image or --disk with it');
    body.template = checkName(f.template, 'template name');
  }
  // cloud-init NoCloud seed: the daemon checks the values; the key files are read here.
  if (typeof f.hostname === 'string') body.hostname = f.hostname;
  if (typeof f.password === 'string') body.password = f.password;
  const keyFiles = (f['ssh-key'] as string[] | undefined) ?? [];
  if (keyFiles.length) body.sshKeys = keyFiles.flatMap(readKeyFile);
  if (typeof f.memory === 'string') body.memory = wholeMiB(parseMemorySize(f.memory), 'memory size', f.memory);
  if (typeof f.cpus === 'string') {
    if (!/^\d+$/.test(f.cpus) || Number(f.cpus) < 1 || Number(f.cpus) > 64)
      throw new UsageError(`invalid --cpus '${f.cpus}' (expected a number of harts, e.g. 2)`);
    body.cpus = Number(f.cpus);
  }
  const kernel = f.kernel as string | undefined;
  const image = f.image as string | undefined;
  if (kernel !== undefined && image !== undefined) throw new UsageError('give --kernel or --image, not both');
  if (kernel === undefined && (f.initrd !== undefined || f.append !== undefined))
    throw new UsageError('--initrd and --append go with --kernel (the default guest and images bring their own)');
  if (kernel !== undefined)
    body.source = {
      type: 'kernel',
      kernel: resolve(kernel),
      ...(typeof f.initrd === 'string' ? { initrd: resolve(f.initrd) } : {}),
      ...(typeof f.append === 'string' ? { append: f.append } : {}),
    };
  else if (image !== undefined) {
    const d = parseCreateDisk(image);
    if (!('path' in d) || d.readonly) throw new UsageError(`--image '${image}': expected FILE[,format=FMT]`);
    body.source = { type: 'image', path: d.path, ...(d.format ? { format: d.format } : {}) };
  }
  const disks = ((f.disk as string[] | undefined) ?? []).map(parseCreateDisk);
  if (disks.length) body.disks = disks;
  const nics = ((f.net as string[] | undefined) ?? []).map(parseCreateNet);
  if (nics.length) body.nics = nics;
  return body;
}

/** What a verb's handler gets: the parsed arguments and the API. */
export interface VerbContext {
  args: ParsedArgs;
  api: VmApi;
  json: boolean;
  endpoint: Endpoint;
}
