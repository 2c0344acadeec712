/**
 * `virtkit img VERB ...`: a qemu-img class tool over the img library (src/storage/img). Options
 * are spelled as qemu-img spells them; output (human and JSON) follows qemu-img's layout so its
 * users and their scripts feel at home. Bad input is a one-line message and exit status 2.
 */
import { nodeImgContext } from '../host/node/img-host.ts';
import { progressBar, type Progress } from '../host/node/img-progress.ts';
import {
  checkExitCode,
  checkText,
  checkToJson,
  imgCheck,
  imgCommit,
  imgCompare,
  imgConvert,
  imgCreate,
  imgInfo,
  imgMap,
  imgMeasure,
  imgRebase,
  imgResize,
  imgSnapshot,
  infoText,
  infoToJson,
  mapEntryJson,
  mapText,
  parseImgSize,
  snapshotTable,
  type ImgContext,
  type SizeSpec,
} from '../storage/img/index.ts';
import { StorageError } from '../storage/types.ts';
import { parseArgs, type FlagKind, type ParsedArgs } from './args.ts';
import { CliError, UsageError } from './errors.ts';
import type { Command } from './command.ts';

/** Where a verb's output goes: the process's streams, or a test's buffers. */
export interface ImgIo {
  ctx: ImgContext;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** What a verb prints with: lines to stdout, JSON, lines to stderr, a progress bar for -p. */
interface Printer {
  ctx: ImgContext;
  out(line: string): void;
  json(value: unknown): void;
  err(line: string): void;
  progress(a: ParsedArgs): Progress | undefined;
}

function printer(io: ImgIo): Printer {
  const out = (line: string) => io.stdout(line + '\n');
  return {
    ctx: io.ctx,
    out,
    json: (v) => out(JSON.stringify(v, null, 4)),
    err: (line) => io.stderr(line + '\n'),
    progress: (a) => (a.flags['progress'] === true ? progressBar(io.stderr) : undefined),
  };
}

interface Verb {
  usage: string;
  help: string;
  spec: Record<string, FlagKind>;
  aliases: Record<string, string>;
  run(p: Printer, a: ParsedArgs): Promise<number>;
}

function str(a: ParsedArgs, name: string): string | undefined {
  const v = a.flags[name];
  return typeof v === 'string' ? v : undefined;
}
const bool = (a: ParsedArgs, name: string) => a.flags[name] === true;

function outputMode(a: ParsedArgs): 'human' | 'json' {
  const o = str(a, 'output') ?? 'human';
  if (o !== 'human' && o !== 'json') throw new UsageError(`--output must be 'human' or 'json', not '${o}'`);
  return o;
}

/** -o a=b,c=d (repeatable); qemu's ",," escape for a literal comma is honoured. */
function parseOptions(list: string[] | undefined): Record<string, string> {
  const opts: Record<string, string> = {};
  for (const text of list ?? []) {
    for (const part of text.replace(/,,/g, '\u0000').split(',')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw new UsageError(`invalid -o option '${part.replace(/\u0000/g, ',')}' (expected key=value)`);
      opts[part.slice(0, eq)] = part.slice(eq + 1).replace(/\u0000/g, ',');
    }
  }
  return opts;
}

function size(text: string, what = 'size'): number {
  const n = parseImgSize(text);
  if (n === undefined)
    throw new UsageError(`invalid ${what} '${text}' (expected a number with an optional k, M, G, T, P or E suffix)`);
  if (!Number.isSafeInteger(n))
    throw new UsageError(`${what} '${text}' is too large (at most ${Number.MAX_SAFE_INTEGER} bytes)`);
  return n;
}

function positionals(a: ParsedArgs, min: number, max: number, usage: string): string[] {
  if (a.positional.length < min || a.positional.length > max) {
    throw new UsageError(`${a.positional.length < min ? 'missing' : 'too many'} arguments; usage: ${usage}`);
  }
  return a.positional;
}

/** Image options every verb may not accept: we refuse unknown -o keys as qemu-img does. */
const CREATE_OPTIONS: Record<string, string[]> = {
  raw: ['preallocation'],
  qcow2: [
    'cluster_size',
    'compat',
    'preallocation',
    'lazy_refcounts',
    'refcount_bits',
    'extended_l2',
    'compression_type',
  ],
  vmdk: ['subformat', 'adapter_type', 'hwversion', 'compat6', 'toolsversion', 'zeroed_grain'],
  vpc: ['subformat', 'force_size'],
  vhdx: ['log_size', 'block_size', 'subformat', 'block_state_zero'],
};

/** Splits -o into format options and the ones qemu-img also takes there (size, backing_file, backing_fmt). */
function formatOptions(format: string, opts: Record<string, string>) {
  const { size: sz, backing_file, backing_fmt, ...rest } = opts;
  const known = CREATE_OPTIONS[format];
  if (known) {
    for (const k of Object.keys(rest)) {
      if (!known.includes(k))
        throw new UsageError(`invalid parameter '${k}' for format '${format}' (valid: ${known.join(', ')})`);
    }
  }
  return { options: rest, size: sz, backingFile: backing_file, backingFormat: backing_fmt };
}

/** qemu-img's words for -U on a verb that writes the image (qemu-img exits 1; a bad flag here is 2). */
const FORCE_SHARE_WRITABLE = 'force-share=on can only be used with read-only images';

const verbs: Record<string, Verb> = {
  info: {
    usage: 'info [-U] [-f fmt] [--output human|json] [--backing-chain] FILE',
    help: `Shows what an image is: format, virtual and on-disk size, cluster size, backing file, snapshots.
  -f FMT            the image's format (detected from its content when omitted)
  --output FMT      'human' (default) or 'json' (qemu-img's JSON field names)
  --backing-chain   describe every image of the backing chain, top first
  -U                force-share: open without refusing writers (a running VM's disk; may read torn data)`,
    spec: { format: 'string', output: 'string', 'backing-chain': 'boolean', 'force-share': 'boolean' },
    aliases: { f: 'format', U: 'force-share' },
    async run({ ctx, out, json }, a) {
      const [file] = positionals(a, 1, 1, this.usage);
      const mode = outputMode(a);
      const chain = bool(a, 'backing-chain');
      const infos = await imgInfo(ctx, file!, { format: str(a, 'format'), backingChain: chain });
      if (mode === 'json') json(chain ? infos.map(infoToJson) : infoToJson(infos[0]!));
      else out(infos.map(infoText).join('\n\n'));
      return 0;
    },
  },

  create: {
    usage: 'create [-f fmt] [-o key=val,...] [-b backing [-F backing_fmt]] [-u] FILE [SIZE]',
    help: `Creates an empty image.
  -f FMT            format: raw (default), qcow2, vmdk, vpc, vhdx
  -o OPTIONS        format options, e.g. cluster_size=65536,compat=1.1 (qcow2), subformat=streamOptimized (vmdk),
                    subformat=fixed (vpc), block_size=... (vhdx); also size=, backing_file=, backing_fmt=
  -b BACKING        the new image is an overlay over BACKING (relative names are relative to FILE)
  -F FMT            the backing file's format (detected when omitted)
  -q                quiet
  SIZE              bytes, or with a k, M, G, T, P or E suffix (powers of 1024); defaults to the backing file's size`,
    spec: {
      format: 'string',
      options: 'list',
      backing: 'string',
      'backing-format': 'string',
      quiet: 'boolean',
      unsafe: 'boolean',
    },
    aliases: { f: 'format', o: 'options', b: 'backing', F: 'backing-format', q: 'quiet', u: 'unsafe' },
    async run({ ctx, out }, a) {
      const [file, sizeText] = positionals(a, 1, 2, this.usage);
      const format = str(a, 'format') ?? 'raw';
      const fo = formatOptions(format, parseOptions(a.flags['options'] as string[] | undefined));
      const sz = sizeText ?? fo.size;
      const backingFile = str(a, 'backing') ?? fo.backingFile;
      const r = await imgCreate(ctx, file!, {
        format,
        size: sz !== undefined ? size(sz) : undefined,
        options: fo.options,
        backingFile,
        backingFormat: str(a, 'backing-format') ?? fo.backingFormat,
      });
      if (!bool(a, 'quiet')) {
        const extra = Object.entries(fo.options).map(([k, v]) => ` ${k}=${v}`);
        const back =
          backingFile !== undefined ? ` backing_file=${backingFile} backing_fmt=${r.backingFormat ?? ''}` : '';
        out(`Formatting '${file}', fmt=${r.format}${extra.join('')} size=${r.size}${back}`);
      }
      return 0;
    },
  },

  convert: {
    usage:
      'convert [-U] [-f fmt] [-O fmt] [-o options] [-c] [-p] [-S size] [-B backing [-F backing_fmt]] [-n] SRC... DST',
    help: `Copies one or more images (laid end to end) into a new image, of any format. Only data is copied:
unallocated and zero runs stay unallocated in the target. The sources are never modified.
  -f FMT            format of the sources (detected when omitted)
  -O FMT            target format: raw (default), qcow2, vmdk, vpc, vhdx
  -o OPTIONS        target format options (as for create)
  -c                compress the target (qcow2 compressed clusters; streamOptimized for vmdk)
  -p                show progress on stderr
  -S SIZE           zero runs of at least SIZE bytes (aligned) stay unallocated; default 4k; 0 = fully allocate
  -B BACKING        the target is an overlay over BACKING; data the source takes from its backing file is not copied
  -F FMT            format of BACKING
  -n                the target exists already: do not create it
  -q                quiet
  -U                force-share: open without refusing writers (a running VM's disk; may read torn data)`,
    spec: {
      'force-share': 'boolean',
      format: 'string',
      'output-format': 'string',
      options: 'list',
      compress: 'boolean',
      progress: 'boolean',
      sparse: 'string',
      backing: 'string',
      'backing-format': 'string',
      'no-create': 'boolean',
      quiet: 'boolean',
    },
    aliases: {
      U: 'force-share',
      f: 'format',
      O: 'output-format',
      o: 'options',
      c: 'compress',
      p: 'progress',
      S: 'sparse',
      B: 'backing',
      F: 'backing-format',
      n: 'no-create',
      q: 'quiet',
    },
    async run({ ctx, progress }, a) {
      if (a.positional.length < 2) throw new UsageError(`missing arguments; usage: ${this.usage}`);
      const srcs = a.positional.slice(0, -1);
      const dst = a.positional[a.positional.length - 1]!;
      if (srcs.includes(dst)) throw new UsageError(`the target '${dst}' is also a source`);
      const format = str(a, 'output-format') ?? 'raw';
      const fo = formatOptions(format, parseOptions(a.flags['options'] as string[] | undefined));
      const sparseText = str(a, 'sparse');
      const bar = bool(a, 'quiet') ? undefined : progress(a);
      await imgConvert(ctx, srcs, dst, {
        sourceFormat: str(a, 'format'),
        format,
        options: fo.options,
        compress: bool(a, 'compress'),
        sparseSize: sparseText !== undefined ? size(sparseText, '-S size') : undefined,
        backingFile: str(a, 'backing') ?? fo.backingFile,
        backingFormat: str(a, 'backing-format') ?? fo.backingFormat,
        noCreate: bool(a, 'no-create'),
        onProgress: bar ? (d, t) => bar.update(d, t) : undefined,
      });
      bar?.finish();
      return 0;
    },
  },

  check: {
    usage: 'check [-U] [-f fmt] [-r leaks|all] [--output human|json] FILE',
    help: `Checks an image's metadata for consistency (qcow2: check and repair;
VMDK: check only; VHDX: check, and -r replays a pending log).
  -f FMT            the image's format
  -r leaks|all      repair leaked clusters only, or everything repairable
  --output FMT      'human' (default) or 'json'
  -U                force-share: open without refusing writers (not with -r)
Exit status: 0 no errors, 1 the check could not be completed, 2 corruptions, 3 leaked clusters,
63 the format has no check.`,
    spec: { 'force-share': 'boolean', format: 'string', repair: 'string', output: 'string', quiet: 'boolean' },
    aliases: { U: 'force-share', f: 'format', r: 'repair', q: 'quiet' },
    async run({ ctx, out, json, err }, a) {
      const [file] = positionals(a, 1, 1, this.usage);
      const mode = outputMode(a);
      const repair = str(a, 'repair');
      if (repair !== undefined && repair !== 'leaks' && repair !== 'all') {
        throw new UsageError(`-r must be 'leaks' or 'all', not '${repair}'`);
      }
      if (repair !== undefined && bool(a, 'force-share')) throw new UsageError(FORCE_SHARE_WRITABLE);
      let report;
      try {
        report = await imgCheck(ctx, file!, { format: str(a, 'format'), repair });
      } catch (e) {
        if (e instanceof StorageError && ['not-found', 'bad-magic', 'unsupported', 'locked'].includes(e.code)) throw e;
        // Opened, but the checker itself failed: qemu-img's "check not completed".
        err(`virtkit img: check of '${file}' not completed: ${(e as Error).message}`);
        return 1;
      }
      if (!report.result) {
        err(`virtkit img: format '${report.format}' does not support checks`);
        return 63;
      }
      for (const m of report.result.messages) err(m);
      if (mode === 'json') json(checkToJson(report));
      else if (!bool(a, 'quiet')) out(checkText(report));
      return checkExitCode(report);
    },
  },

  resize: {
    usage: 'resize [-f fmt] [--shrink] FILE [+|-]SIZE',
    help: `Changes an image's virtual size.
  -f FMT            the image's format
  --shrink          allow making the image smaller (data past the new end is lost)
  SIZE              new size, or +SIZE / -SIZE relative to the current one`,
    spec: { format: 'string', shrink: 'boolean', quiet: 'boolean' },
    aliases: { f: 'format', q: 'quiet' },
    async run({ ctx, out }, a) {
      // "-1G" looks like an option to the parser, so take the size from the raw positional list.
      const [file, sizeText] = positionals(a, 2, 2, this.usage);
      const t = sizeText!;
      const spec: SizeSpec = t.startsWith('+')
        ? { delta: size(t.slice(1)) }
        : t.startsWith('-')
          ? { delta: -size(t.slice(1)) }
          : { absolute: size(t) };
      await imgResize(ctx, file!, spec, { format: str(a, 'format'), shrink: bool(a, 'shrink') });
      if (!bool(a, 'quiet')) out('Image resized.');
      return 0;
    },
  },

  snapshot: {
    usage: 'snapshot [-U] [-f fmt] -l | -c NAME | -a NAME | -d NAME FILE',
    help: `Lists, creates, applies or deletes internal snapshots (qcow2).
  -l                list the snapshots
  -c NAME           create a snapshot of the current disk state
  -a NAME           revert the disk to a snapshot (name or id)
  -d NAME           delete a snapshot (name or id)
  -f FMT            the image's format
  -U                force-share, with -l only: open without refusing writers (a running VM's disk)`,
    spec: {
      'force-share': 'boolean',
      format: 'string',
      list: 'boolean',
      create: 'string',
      apply: 'string',
      delete: 'string',
      quiet: 'boolean',
    },
    aliases: { U: 'force-share', f: 'format', l: 'list', c: 'create', a: 'apply', d: 'delete', q: 'quiet' },
    async run({ ctx, out }, a) {
      const [file] = positionals(a, 1, 1, this.usage);
      const ops = (['list', 'create', 'apply', 'delete'] as const).filter((k) => a.flags[k] !== undefined);
      if (ops.length !== 1) throw new UsageError('snapshot needs exactly one of -l, -c, -a, -d');
      const op = ops[0]!;
      if (op !== 'list' && bool(a, 'force-share')) throw new UsageError(FORCE_SHARE_WRITABLE);
      const now = Date.now();
      const snaps = await imgSnapshot(ctx, file!, op === 'list' ? { op } : { op, name: str(a, op)! }, {
        format: str(a, 'format'),
        now: { sec: Math.floor(now / 1000), nsec: (now % 1000) * 1e6 },
      });
      if (op === 'list' && snaps.length > 0) out(snapshotTable(snaps).join('\n'));
      return 0;
    },
  },

  compare: {
    usage: 'compare [-U] [-f fmt] [-F fmt] [-s] [-p] A B',
    help: `Compares the contents two images show a guest.
  -f FMT / -F FMT   formats of A and B
  -s                strict: sizes and allocation must match too
  -p                show progress on stderr
  -U                force-share: open without refusing writers (a running VM's disk; may read torn data)
Exit status: 0 identical, 1 different ("Content mismatch at offset N!"), 2 error.`,
    spec: {
      'force-share': 'boolean',
      'a-format': 'string',
      'b-format': 'string',
      strict: 'boolean',
      progress: 'boolean',
      quiet: 'boolean',
    },
    aliases: { U: 'force-share', f: 'a-format', F: 'b-format', s: 'strict', p: 'progress', q: 'quiet' },
    async run({ ctx, out, progress }, a) {
      const [fa, fb] = positionals(a, 2, 2, this.usage);
      const bar = progress(a);
      const r = await imgCompare(ctx, fa!, fb!, {
        formatA: str(a, 'a-format'),
        formatB: str(a, 'b-format'),
        strict: bool(a, 'strict'),
        onProgress: bar ? (d, t) => bar.update(d, t) : undefined,
      });
      bar?.finish();
      const quiet = bool(a, 'quiet');
      if (r.identical) {
        if (!quiet) {
          if (r.sizeMismatch) out('Warning: Image size mismatch!');
          out('Images are identical.');
        }
        return 0;
      }
      if (!quiet) {
        if (r.reason === 'size') out('Strict mode: Image size mismatch!');
        else if (r.reason === 'allocation') out(`Strict mode: Offset ${r.offset} block status mismatch!`);
        else {
          if (r.sizeMismatch) out('Warning: Image size mismatch!');
          out(`Content mismatch at offset ${r.offset}!`);
        }
      }
      return 1;
    },
  },

  commit: {
    usage: 'commit [-f fmt] [-b base] [-d] [-p] FILE',
    help: `Writes an overlay's data into its backing file (or into BASE further down the chain), then
empties the overlay so it reads through to its backing file again (qcow2; other formats keep
their data).
  -f FMT            the overlay's format
  -b BASE           the image of the chain to commit into (default: the immediate backing file);
                    implies -d, as in qemu-img
  -d                keep the overlay's data (do not empty it)
  -p                show progress on stderr`,
    spec: { format: 'string', base: 'string', drop: 'boolean', progress: 'boolean', quiet: 'boolean' },
    aliases: { f: 'format', b: 'base', d: 'drop', p: 'progress', q: 'quiet' },
    async run({ ctx, out, progress }, a) {
      const [file] = positionals(a, 1, 1, this.usage);
      const bar = progress(a);
      await imgCommit(ctx, file!, {
        format: str(a, 'format'),
        base: str(a, 'base'),
        keep: bool(a, 'drop'),
        onProgress: bar ? (d, t) => bar.update(d, t) : undefined,
      });
      bar?.finish();
      if (!bool(a, 'quiet')) out('Image committed.');
      return 0;
    },
  },

  rebase: {
    usage: 'rebase [-U] [-f fmt] [-u] -b backing [-F backing_fmt] [-p] FILE',
    help: `Changes an overlay's backing file.
  -b BACKING        the new backing file ('' for none); relative names are relative to FILE
  -F FMT            its format (detected when omitted)
  -u                unsafe: only rewrite the reference (the new backing file must hold the same data)
  -f FMT            the overlay's format
  -p                show progress on stderr
  -U                force-share: open the backing files without refusing writers
Without -u, data that differs between the old and the new backing file is first copied into the overlay.`,
    spec: {
      'force-share': 'boolean',
      format: 'string',
      backing: 'string',
      'backing-format': 'string',
      unsafe: 'boolean',
      progress: 'boolean',
      quiet: 'boolean',
    },
    aliases: {
      U: 'force-share',
      f: 'format',
      b: 'backing',
      F: 'backing-format',
      u: 'unsafe',
      p: 'progress',
      q: 'quiet',
    },
    async run({ ctx, progress }, a) {
      const [file] = positionals(a, 1, 1, this.usage);
      const backing = str(a, 'backing');
      if (backing === undefined) throw new UsageError('rebase needs -b BACKING (use -b "" to remove the backing file)');
      const bar = progress(a);
      await imgRebase(ctx, file!, {
        format: str(a, 'format'),
        backingFile: backing,
        backingFormat: str(a, 'backing-format'),
        unsafe: bool(a, 'unsafe'),
        onProgress: bar ? (d, t) => bar.update(d, t) : undefined,
      });
      bar?.finish();
      return 0;
    },
  },

  map: {
    usage: 'map [-U] [-f fmt] [--output human|json] [--start-offset N] [--max-length N] FILE',
    help: `Shows where an image's data lives: which layer of the chain, and where in its file.
  -f FMT            the image's format
  --output FMT      'human' (default: runs stored in files) or 'json' (every run, qemu-img map's fields)
  --start-offset N  begin at this guest offset
  --max-length N    map at most N bytes
  -U                force-share: open without refusing writers (a running VM's disk; may read torn data)`,
    spec: {
      'force-share': 'boolean',
      format: 'string',
      output: 'string',
      'start-offset': 'string',
      'max-length': 'string',
    },
    aliases: { U: 'force-share', f: 'format' },
    async run({ ctx, out }, a) {
      const [file] = positionals(a, 1, 1, this.usage);
      const mode = outputMode(a);
      const so = str(a, 'start-offset');
      const ml = str(a, 'max-length');
      const entries = await imgMap(ctx, file!, {
        format: str(a, 'format'),
        start: so !== undefined ? size(so, 'start offset') : undefined,
        length: ml !== undefined ? size(ml, 'max length') : undefined,
      });
      if (mode === 'json') out(`[${entries.map(mapEntryJson).join(',\n')}]`);
      else out(mapText(entries));
      return 0;
    },
  },

  measure: {
    usage: 'measure [-U] [-O fmt] [-o options] [-f fmt] [--output human|json] (--size N | FILE)',
    help: `Computes the file size an image would need in a format.
  -O FMT            the format to measure for: raw (default) or qcow2
  -o OPTIONS        its options (cluster_size, refcount_bits, extended_l2 for qcow2)
  --size N          for an empty image of this virtual size
  FILE              for the contents of this image (-f gives its format)
  --output FMT      'human' (default) or 'json'
Prints "required size" (with the data present) and "fully allocated size".
  -U                force-share: open without refusing writers (a running VM's disk; may read torn data)`,
    spec: {
      'force-share': 'boolean',
      'output-format': 'string',
      options: 'list',
      format: 'string',
      size: 'string',
      output: 'string',
    },
    aliases: { U: 'force-share', O: 'output-format', o: 'options', f: 'format' },
    async run({ ctx, out, json }, a) {
      const files = positionals(a, 0, 1, this.usage);
      const mode = outputMode(a);
      const sz = str(a, 'size');
      if ((sz === undefined) === (files.length === 0))
        throw new UsageError('measure needs either --size N or a FILE (not both)');
      const format = str(a, 'output-format') ?? 'raw';
      const fo = formatOptions(format, parseOptions(a.flags['options'] as string[] | undefined));
      const r = await imgMeasure(ctx, {
        format,
        options: fo.options,
        size: sz !== undefined ? size(sz) : undefined,
        source: files[0],
        sourceFormat: str(a, 'format'),
      });
      // qemu-img's key order: bitmaps (when it applies) first in JSON, last in text.
      if (mode === 'json')
        json({
          ...(r.bitmaps !== undefined && { bitmaps: r.bitmaps }),
          required: r.required,
          'fully-allocated': r.fullyAllocated,
        });
      else
        out(
          `required size: ${r.required}\nfully allocated size: ${r.fullyAllocated}` +
            (r.bitmaps !== undefined ? `\nbitmaps size: ${r.bitmaps}` : ''),
        );
      return 0;
    },
  },
};

function verbHelp(name: string): string {
  const v = verbs[name]!;
  return `usage: virtkit img ${v.usage}\n\n${v.help}`;
}

const help = [
  'usage: virtkit img VERB [options] ARGS   (qemu-img compatible options)',
  '',
  ...Object.keys(verbs).flatMap((n) => [verbHelp(n), '']),
  "Sizes take k, M, G, T, P, E suffixes (powers of 1024). 'virtkit img help VERB' shows one verb.",
  'Errors print one line and exit with status 2 (check, compare: see their exit statuses).',
  'Images are locked as QEMU locks them: a verb refuses an image another program (a running',
  "virtkit or QEMU VM, qemu-img) holds in a conflicting way, with qemu-img's message",
  '(Failed to get "write" lock) and exit status 1 (compare: 2); -U relaxes it for read-only verbs.',
].join('\n');

/**
 * Storage failures are the user's input being wrong (missing file, bad image): exit 2, one line.
 * An image locked by another program is a runtime failure: exit 1, as qemu-img (compare: 2,
 * because its 1 means "different").
 */
function toCliError(e: unknown, verb: string): unknown {
  if (e instanceof StorageError && e.code === 'locked' && verb !== 'compare') return new CliError(e.message, 1);
  if (e instanceof StorageError) return new UsageError(e.message);
  return e;
}

const processIo = (): ImgIo => ({
  ctx: nodeImgContext(),
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
});

export async function runImg(argv: string[], io: ImgIo = processIo()): Promise<number> {
  let p = printer(io);
  const out = p.out;
  const [name, ...rest] = argv;
  if (!name) throw new UsageError("missing verb (try 'virtkit img --help')");
  if (name === '--help' || name === '-h') {
    out(help);
    return 0;
  }
  if (name === 'help') {
    const v = rest[0];
    if (v && !verbs[v]) throw new UsageError(`unknown verb '${v}'`);
    out(v ? verbHelp(v) : help);
    return 0;
  }
  const verb = verbs[name];
  if (!verb) throw new UsageError(`unknown verb '${name}' (verbs: ${Object.keys(verbs).join(', ')})`);
  if (rest.includes('--help') || rest.includes('-h')) {
    out(verbHelp(name));
    return 0;
  }
  // resize takes "-1G": a leading "-" followed by a digit is a size, not an option.
  const args = name === 'resize' ? rest.map((x) => (/^-\d/.test(x) ? `\u0000${x}` : x)) : rest;
  const parsed = parseArgs(args, verb.spec, verb.aliases);
  parsed.positional = parsed.positional.map((x) => (x.startsWith('\u0000') ? x.slice(1) : x));
  if (parsed.flags['force-share'] === true) {
    const host = io.ctx.host.forceShared?.() ?? io.ctx.host;
    p = { ...p, ctx: { ...io.ctx, host } };
  }
  try {
    return await verb.run(p, parsed);
  } catch (e) {
    throw toCliError(e, name);
  }
}

export const command: Command = {
  summary: 'create, inspect, convert and check disk images (qemu-img compatible)',
  help,
  verbs: Object.fromEntries(Object.entries(verbs).map(([n, v]) => [n, v.spec])),
  handlesHelp: true,
  run: (argv) => runImg(argv),
};
