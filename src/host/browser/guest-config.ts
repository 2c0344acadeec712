/**
 * What the page boots, from its query string or a JSON config file:
 *
 *   ?kernel=URL&initrd=URL&append=TEXT&memory=512M&cpus=1&disk=URL[,format=qcow2][,rw]&autostart=1
 *   ?config=URL   (JSON: { kernel, initrd?, append?, memory?, cpus?, disks?: [{ url, format?, writable? }] })
 *
 * URLs are resolved against the page (or the config file's) address, so the worker, whose base
 * differs, gets absolute ones. Every mistake is a ConfigError that names the field.
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface UrlDisk {
  url: string;
  format?: string;
  /** Writes go to an in-memory copy-on-write layer (the image itself is never modified). */
  writable: boolean;
}

export interface BootConfig {
  kernel: string;
  initrd?: string;
  append: string;
  memoryMiB: number;
  cpus: number;
  disks: UrlDisk[];
}

export const DEFAULT_APPEND = 'console=ttyS0';
const FORMATS = ['raw', 'qcow2', 'vmdk', 'vpc', 'vhdx'];

function resolveUrl(u: string, base: string, field: string): string {
  try {
    return new URL(u, base).href;
  } catch {
    throw new ConfigError(`${field}: '${u}' is not a valid URL`);
  }
}

/** '512M', '1G', '512' (MiB) -> MiB. */
export function parseMemory(text: string): number {
  const m = /^(\d+)\s*([MG]i?B?)?$/i.exec(text.trim());
  if (!m) throw new ConfigError(`memory: '${text}' is not a size like 512M or 1G`);
  const n = Number(m[1]) * (m[2] && m[2][0]!.toUpperCase() === 'G' ? 1024 : 1);
  if (n < 16 || n > 4096) throw new ConfigError(`memory: ${n} MiB is outside 16M..4G`);
  return n;
}

function parseCpus(v: unknown): number {
  const n = typeof v === 'number' ? v : /^\d+$/.test(String(v)) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 8) throw new ConfigError(`cpus: '${String(v)}' is not an integer 1..8`);
  return n;
}

/** URL[,format=F][,rw] as in the query string. */
export function parseDiskParam(text: string, base: string): UrlDisk {
  const parts = text.split(',');
  const url = parts.shift() ?? '';
  if (!url) throw new ConfigError(`disk '${text}': missing URL`);
  const d: UrlDisk = { url: resolveUrl(url, base, 'disk'), writable: false };
  for (const p of parts) {
    const [k, v] = p.split('=', 2) as [string, string | undefined];
    if (k === 'format' && v && FORMATS.includes(v)) d.format = v;
    else if (k === 'rw' && v === undefined) d.writable = true;
    else if (k === 'readonly' && v === undefined) d.writable = false;
    else throw new ConfigError(`disk '${text}': unknown option '${p}' (format=${FORMATS.join('|')}, rw, readonly)`);
  }
  return d;
}

/** The boot config from a parsed JSON document; base resolves relative URLs. */
export function configFromJson(doc: unknown, base: string): BootConfig {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config must be a JSON object');
  const o = doc as Record<string, unknown>;
  const known = ['kernel', 'initrd', 'append', 'memory', 'cpus', 'disks'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new ConfigError(`config: unknown field '${k}'`);
  if (typeof o.kernel !== 'string' || !o.kernel) throw new ConfigError('config: "kernel" (a URL) is required');
  if (o.initrd !== undefined && typeof o.initrd !== 'string') throw new ConfigError('config: "initrd" must be a URL');
  if (o.append !== undefined && typeof o.append !== 'string') throw new ConfigError('config: "append" must be text');
  const disks: UrlDisk[] = [];
  if (o.disks !== undefined) {
    if (!Array.isArray(o.disks)) throw new ConfigError('config: "disks" must be a list');
    for (const [i, d] of o.disks.entries()) {
      if (!d || typeof d !== 'object' || typeof (d as { url?: unknown }).url !== 'string')
        throw new ConfigError(`config: disks[${i}] needs a "url"`);
      const { url, format, writable } = d as { url: string; format?: unknown; writable?: unknown };
      if (format !== undefined && (typeof format !== 'string' || !FORMATS.includes(format)))
        throw new ConfigError(`config: disks[${i}].format must be one of ${FORMATS.join(', ')}`);
      disks.push({
        url: resolveUrl(url, base, `disks[${i}]`),
        ...(format ? { format: format as string } : {}),
        writable: writable === true,
      });
    }
  }
  return {
    kernel: resolveUrl(o.kernel, base, 'kernel'),
    ...(o.initrd ? { initrd: resolveUrl(o.initrd, base, 'initrd') } : {}),
    append: (o.append as string | undefined) ?? DEFAULT_APPEND,
    memoryMiB: o.memory === undefined ? 512 : parseMemory(String(o.memory)),
    cpus: o.cpus === undefined ? 1 : parseCpus(o.cpus),
    disks,
  };
}

/** The boot config from query parameters, or undefined when they name no kernel (use a config file). */
export function configFromQuery(params: URLSearchParams, base: string): BootConfig | undefined {
  const kernel = params.get('kernel');
  if (!kernel) {
    for (const k of ['initrd', 'disk']) if (params.has(k)) throw new ConfigError(`'${k}' was given without 'kernel'`);
    return undefined;
  }
  return {
    kernel: resolveUrl(kernel, base, 'kernel'),
    ...(params.get('initrd') ? { initrd: resolveUrl(params.get('initrd')!, base, 'initrd') } : {}),
    append: params.get('append') ?? DEFAULT_APPEND,
    memoryMiB: params.has('memory') ? parseMemory(params.get('memory')!) : 512,
    cpus: params.has('cpus') ? parseCpus(params.get('cpus')) : 1,
    disks: params.getAll('disk').map((d) => parseDiskParam(d, base)),
  };
}
