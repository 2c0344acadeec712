/**
 * The watching verbs of `virtkit vm`: `stats [NAME...] [--watch]` (samples the VMs' counters,
 * refreshing a table until interrupted) and `events [NAME] [--follow]` (stored lifecycle events,
 * then the daemon's server-sent-event stream).
 */
import type { VerbContext } from './vm-args.ts';
import { checkName, parseSeconds } from './vm-args.ts';
import { eventLine, statsTable } from './vm-format.ts';
import { UsageError } from './errors.ts';
import { ApiError } from '../manager/client/errors.ts';
import type { VmEvent, VmStats } from '../manager/client/types.ts';

const UP = new Set(['starting', 'running', 'paused', 'stopping']);

/** Resolves on SIGINT/SIGTERM (the normal end of --watch and --follow), removing its handlers. */
function interrupted(): { done: Promise<void>; dispose(): void } {
  let finish = () => {};
  const done = new Promise<void>((r) => (finish = r));
  const on = () => finish();
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    done,
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

async function sample(ctx: VerbContext, named: string[]): Promise<{ name: string; stats: VmStats }[]> {
  const names = named.length ? named : (await ctx.api.list()).filter((v) => UP.has(v.state)).map((v) => v.name);
  const out: { name: string; stats: VmStats }[] = [];
  for (const name of names) {
    try {
      out.push({ name, stats: await ctx.api.stats(name) });
    } catch (e) {
      // A VM of the implicit set that stopped or went away since the list is left out.
      if (!named.length && e instanceof ApiError && (e.status === 404 || e.status === 409)) continue;
      throw e;
    }
  }
  return out;
}

export async function stats(ctx: VerbContext): Promise<number> {
  const named = ctx.args.positional.map((n) => checkName(n));
  const watch = ctx.args.flags.watch === true;
  const iv = ctx.args.flags.interval;
  if (iv !== undefined && !watch) throw new UsageError('--interval goes with --watch');
  const interval = typeof iv === 'string' ? parseSeconds(iv, '--interval', 0.1) : 2;
  if (!watch) {
    const samples = await sample(ctx, named);
    if (ctx.json)
      process.stdout.write(
        `${JSON.stringify(named.length === 1 ? samples[0]!.stats : samples.map((s) => ({ name: s.name, ...s.stats })), null, 2)}\n`,
      );
    else if (samples.length === 0) process.stdout.write('no VM is running\n');
    else process.stdout.write(`${statsTable(samples)}\n`);
    return 0;
  }
  const stop = interrupted();
  const tty = process.stdout.isTTY === true && !ctx.json;
  const prev = new Map<string, VmStats>();
  try {
    let stopped = false;
    void stop.done.then(() => (stopped = true));
    while (!stopped) {
      const samples = await sample(ctx, named);
      if (ctx.json) {
        for (const s of samples) process.stdout.write(`${JSON.stringify({ name: s.name, ...s.stats })}\n`);
      } else {
        const text =
          samples.length === 0
            ? 'no VM is running'
            : statsTable(samples.map((s) => ({ ...s, ...(prev.has(s.name) ? { prev: prev.get(s.name)! } : {}) })));
        // On a terminal the table is redrawn in place; into a pipe or file each sample is appended.
        process.stdout.write(tty ? `\x1b[H\x1b[2J${new Date().toISOString()}\n${text}\n` : `${text}\n\n`);
      }
      prev.clear();
      for (const s of samples) prev.set(s.name, s.stats);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stop.done, new Promise((r) => (timer = setTimeout(r, interval * 1000)))]);
      clearTimeout(timer);
    }
    return 0;
  } finally {
    stop.dispose();
  }
}

const key = (e: VmEvent) => `${e.time} ${e.vm} ${e.previous ?? ''} ${e.state}`;

function byTime(a: VmEvent, b: VmEvent): number {
  return Date.parse(a.time) - Date.parse(b.time);
}

export async function events(ctx: VerbContext): Promise<number> {
  if (ctx.args.positional.length > 1) throw new UsageError(`events: unexpected argument '${ctx.args.positional[1]}'`);
  const name = ctx.args.positional[0] !== undefined ? checkName(ctx.args.positional[0]) : undefined;
  const follow = ctx.args.flags.follow === true;
  const show = (e: VmEvent) => process.stdout.write(`${ctx.json && follow ? JSON.stringify(e) : eventLine(e)}\n`);

  // Following: the stream opens first and holds what it gets until the stored events are out,
  // so an event that happens in between is neither lost nor shown twice.
  let queue: VmEvent[] | undefined = [];
  let streamed: { done: Promise<void>; close(): void } | undefined;
  let streamError: unknown;
  if (follow)
    streamed = ctx.api.client.stream('/v1/events', (m) => {
      if (m.event !== 'state') return;
      let e: VmEvent;
      try {
        e = JSON.parse(m.data) as VmEvent;
      } catch {
        return;
      }
      if (name !== undefined && e.vm !== name) return;
      if (queue) queue.push(e);
      else show(e);
    });
  streamed?.done.catch((e) => (streamError = e));

  let stored: VmEvent[];
  try {
    if (name !== undefined) stored = await ctx.api.events(name);
    else {
      stored = [];
      for (const v of await ctx.api.list()) stored.push(...(await ctx.api.events(v.name).catch(() => [])));
    }
  } catch (e) {
    streamed?.close();
    throw e;
  }
  stored.sort(byTime);
  if (ctx.json && !follow) process.stdout.write(`${JSON.stringify(stored, null, 2)}\n`);
  else if (!ctx.json && !follow && stored.length === 0)
    process.stdout.write(`no events${name ? ` for ${name}` : ''}\n`);
  else for (const e of stored) show(e);
  if (!streamed) return 0;

  const seen = new Set(stored.map(key));
  for (const e of queue!) if (!seen.has(key(e))) show(e);
  queue = undefined;
  const stop = interrupted();
  let byUser = false;
  try {
    await Promise.race([
      streamed.done.catch(() => {}),
      stop.done.then(() => {
        byUser = true;
        streamed!.close();
      }),
    ]);
  } finally {
    stop.dispose();
  }
  if (byUser) return 0;
  if (streamError) throw streamError;
  process.stderr.write('virtkit vm: the daemon ended the event stream\n');
  return 1;
}
