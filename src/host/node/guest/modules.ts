/**
 * Resolves Linux kernel module dependencies without depmod: every .ko carries a `.modinfo`
 * section of NUL-separated key=value strings, among them `depends=a,b`. Debian's package ships
 * no modules.dep (depmod runs at install time), so we read the dependency lists directly.
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Extracts the `depends=` list from a module image's modinfo strings. */
export function moduleDepends(ko: Uint8Array): string[] {
  const text = new TextDecoder('latin1').decode(ko);
  // modinfo strings are NUL-separated; depends= occurs exactly once per module.
  const m = /\0depends=([^\0]*)\0/.exec(text);
  if (!m || m[1] === '') return [];
  return m[1]!.split(',').filter(Boolean);
}

/**
 * The names the kernel may ask modprobe for to get this module (`alias=` modinfo strings, such as
 * fs-ext4 or crypto-crc32c). Wildcard aliases (device ids like `virtio:d00000001v*`) are left out:
 * the guest's modprobe matches names exactly.
 */
export function moduleAliases(ko: Uint8Array): string[] {
  const text = new TextDecoder('latin1').decode(ko);
  const out: string[] = [];
  for (const m of text.matchAll(/\0alias=([^\0]*)(?=\0)/g)) {
    const a = m[1]!;
    if (a !== '' && !/[*?[\]\s]/.test(a) && !out.includes(a)) out.push(a);
  }
  return out;
}

/**
 * `name` and what it depends on, dependencies first (insmod order), from modules already read:
 * `byName` maps each module to its image. Names missing from `byName` (built into the kernel)
 * are skipped.
 */
export function dependencyOrder(name: string, byName: Map<string, Uint8Array>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (raw: string) => {
    const n = normaliseModuleName(raw);
    const ko = byName.get(n);
    if (!ko || seen.has(n)) return;
    seen.add(n); // marked before the dependencies: a cycle ends here instead of recursing forever
    for (const dep of moduleDepends(ko)) visit(dep);
    out.push(n);
  };
  visit(name);
  return out;
}

/** Module names are spelled with '_' or '-' interchangeably; the kernel normalises to '_'. */
export function normaliseModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** Indexes every module file under a modules tree by normalised name. */
export async function indexModules(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.ko(\.xz|\.zst|\.gz)?$/.test(e.name))
        out.set(normaliseModuleName(e.name.replace(/\.ko(\..*)?$/, '')), p);
    }
  };
  await walk(root);
  return out;
}

/** Reads a module file, decompressing .ko.xz/.ko.zst/.ko.gz with the host's tools. */
export async function readModule(path: string): Promise<Uint8Array> {
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : path.endsWith('.gz') ? 'gzip' : undefined;
  if (!tool) {
    const { readFile } = await import('node:fs/promises');
    return new Uint8Array(await readFile(path));
  }
  const { stdout } = await run(tool, ['-dc', path], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  return new Uint8Array(stdout);
}

/**
 * Returns the wanted modules plus their dependencies, dependencies first (the order insmod needs).
 * Modules built into the kernel (listed in modules.builtin) are skipped.
 */
export async function resolveModules(
  wanted: string[],
  index: Map<string, string>,
  builtin: Set<string>,
): Promise<{ name: string; data: Uint8Array }[]> {
  const ordered: { name: string; data: Uint8Array }[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (raw: string, chain: string[]) => {
    const name = normaliseModuleName(raw);
    if (builtin.has(name) || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const path = index.get(name);
    if (!path) throw new Error(`kernel module ${name} not found in the kernel package`);
    state.set(name, 'visiting');
    const data = await readModule(path);
    for (const dep of moduleDepends(data)) await visit(dep, [...chain, name]);
    state.set(name, 'done');
    ordered.push({ name, data });
  };
  for (const w of wanted) await visit(w, []);
  return ordered;
}
