/** `virtkit vm backup`, `restore` and `backup-schedule` (docs/manager.md "Backups"). */
import { resolve } from 'node:path';
import { UsageError } from './errors.ts';
import { checkName, positionals, type VerbContext } from './vm-args.ts';
import { humanBytes } from './vm-format.ts';
import type { BackupJob, BackupSchedule } from '../manager/client/types.ts';

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

const jobLine = (j: BackupJob) =>
  `${j.vm}: backup ${j.path} (${j.kind}${j.fullBecause ? `: ${j.fullBecause}` : ''}${j.ram ? ', with RAM' : ''}) ${j.state}` +
  (j.state === 'failed' ? `: ${j.error ?? ''}` : `, ${humanBytes(j.progress.bytes)} of ${humanBytes(j.progress.total)}`);

export async function backup(ctx: VerbContext): Promise<number> {
  const [name, dest] = positionals(ctx.args, ['NAME', 'DEST'], 'backup');
  const f = ctx.args.flags;
  let job = await ctx.api.backup(checkName(name!), {
    dest: resolve(dest!),
    ...(f.ram ? { ram: true } : {}),
    ...(f.full ? { incremental: false } : {}),
  });
  if (!f.background) {
    let shown = -1;
    while (job.state === 'copying') {
      await new Promise((r) => setTimeout(r, 500));
      job = (await ctx.api.backups(name!)).find((j) => j.id === job.id) ?? job;
      const pct = Math.floor((job.progress.bytes / Math.max(1, job.progress.total)) * 100);
      if (!ctx.json && process.stderr.isTTY && pct !== shown) process.stderr.write(`\r${pct}% copied`);
      shown = pct;
    }
    if (!ctx.json && process.stderr.isTTY && shown >= 0) process.stderr.write('\r');
  }
  if (ctx.json) printJson(job);
  else print(jobLine(job));
  return job.state === 'failed' ? 1 : 0;
}

export async function restore(ctx: VerbContext): Promise<number> {
  const [path] = positionals(ctx.args, ['BACKUP'], 'restore');
  const n = ctx.args.flags.name;
  const vm = await ctx.api.restore(resolve(path!), typeof n === 'string' ? checkName(n, 'new VM name') : undefined);
  if (ctx.json) printJson(vm);
  else print(`restored ${vm.name} from ${resolve(path!)}: ${vm.state}`);
  return 0;
}

const scheduleText = (s: BackupSchedule) =>
  [
    `${s.vm}: every ${s.every} s into ${s.dest}, keep ${s.keep}${s.incremental ? ', incremental' : ', full only'}${s.ram ? ', with RAM' : ''}`,
    `  next run ${s.nextRun}${s.lastRun ? `; last ${s.lastRun}: ${s.lastResult ?? ''}` : ''}`,
  ].join('\n');

export async function backupSchedule(ctx: VerbContext): Promise<number> {
  const [name] = positionals(ctx.args, ['NAME'], 'backup-schedule');
  checkName(name!);
  const f = ctx.args.flags;
  const setting = ['every', 'keep', 'dest', 'full', 'ram'].filter((k) => f[k] !== undefined);
  if (f.remove) {
    if (setting.length) throw new UsageError('backup-schedule: --remove takes no other schedule options');
    await ctx.api.removeSchedule(name!);
    print(`${name}: backup schedule removed`);
    return 0;
  }
  if (!setting.length) {
    const s = await ctx.api.schedule(name!);
    if (ctx.json) printJson(s);
    else print(scheduleText(s));
    return 0;
  }
  for (const k of ['every', 'keep', 'dest'])
    if (typeof f[k] !== 'string') throw new UsageError(`backup-schedule: --${k} is needed to set a schedule`);
  const every = f.every as string;
  const keep = Number(f.keep);
  if (!/^\d+$/.test(f.keep as string) || keep < 1 || keep > 1000)
    throw new UsageError(`backup-schedule: --keep ${f.keep as string}: give a whole number 1..1000`);
  const s = await ctx.api.setSchedule(name!, {
    every: /^\d+$/.test(every) ? Number(every) : every,
    keep,
    dest: resolve(f.dest as string),
    ...(f.full ? { incremental: false } : {}),
    ...(f.ram ? { ram: true } : {}),
  });
  if (ctx.json) printJson(s);
  else print(scheduleText(s));
  return 0;
}
