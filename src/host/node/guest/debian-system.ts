/**
 * The Debian system guest: a full Debian trixie riscv64 (systemd, udev, apt, SSH, the kernel and
 * its initramfs, U-Boot's extlinux.conf) on a GPT disk, built from Debian's packages without root
 * and without binfmt_misc, the way debootstrap builds a system in two stages:
 *
 *   1. host: resolve the package closure with apt (private configuration), download it, unpack
 *      the required set with dpkg-deb and tar, add the configuration files, and write the root
 *      filesystem with e2fsprogs' `mke2fs -d` into partition 1 of a GPT disk (fakeroot when not
 *      root, so every file is owned by root in the image);
 *   2. guest: boot the default guest with that disk and run the packages' own installation and
 *      configuration (dpkg --install/--unpack/--configure, maintainer scripts, update-initramfs,
 *      u-boot-update, users) in a chroot: debian-stage2.ts, debian-system-scripts.ts.
 *
 * The result is cached read-only as `guests/<name>/base.qcow2`; VMs boot from qcow2 overlays on
 * it, through OpenSBI and U-Boot as a board boots from its disk.
 *
 * Interrupted builds: downloads resume (apt keeps what it fetched); the image stages restart from
 * the unpacked packages (a half-configured disk is never reused). Only a finished image is
 * renamed into place, so the cache never holds a half-built one.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { cacheDir } from '../cache-dir.ts';
import { nodeImgContext } from '../img-host.ts';
import { imgConvert } from '../../../storage/img/convert.ts';
import { buildGpt } from '../../../storage/gpt.ts';
import { trixieApt } from './apt.ts';
import { GuestFetchError } from './errors.ts';
import { fetchDefaultGuest } from './debian-guest.ts';
import { planPackages, type PlannedPackage } from './debian-system-packages.ts';
import {
  configureScript,
  HOST_DEPMOD_MARK,
  stage2Script,
  STAGE_DIR,
  systemFiles,
  type SystemConfig,
} from './debian-system-scripts.ts';
import { runStage2 } from './debian-stage2.ts';

export const DEBIAN_SYSTEM = 'debian-trixie-riscv64-system';
/**
 * Bumped when the image's contents change: a cached image of another layout is rebuilt (2: SSH
 * host keys made at first boot by virtkit-ssh-host-keys.service; 3: systemd's device and start
 * timeouts raised to 5 min).
 */
export const SYSTEM_LAYOUT = 3;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
export const DEFAULT_SYSTEM_DISK = 4 * GiB;
/** The root partition starts at 1 MiB (the usual alignment; GPT needs the first 17 KiB). */
const PART_START = MiB;

export interface SystemInfo {
  name: string;
  layout: number;
  dir: string;
  /** The read-only base image (qcow2) VMs make overlays on. */
  disk: string;
  diskSize: number;
  kernelPackage: string;
  packages: number;
  hostname: string;
  user: string;
  rootUuid: string;
  builtAt: string;
  /** Wall seconds of each stage of the build that made it. */
  seconds: { download: number; unpack: number; configure: number; convert: number };
  /** Guest instructions the in-guest configuration took. */
  configureInstructions: number;
}

export interface SystemOptions {
  force?: boolean;
  progress?: (message: string) => void;
  hostname?: string;
  /** The user account (member of sudo). Default "debian". */
  user?: string;
  /** The user's password; generated when absent (returned once, never stored). */
  password?: string;
  /** root's password; generated when absent. */
  rootPassword?: string;
  /** authorized_keys lines for the user and root. */
  sshKeys?: string[];
  diskSize?: number;
  /** More packages to install (names). */
  packages?: string[];
}

export interface SystemBuild {
  info: SystemInfo;
  /** Passwords that were generated for this build (print them once). */
  generated: { password?: string; rootPassword?: string };
  /** False when the cached image was used. */
  built: boolean;
}

export function systemDir(): string {
  return join(cacheDir(), 'guests', DEBIAN_SYSTEM);
}

export async function loadDebianSystem(): Promise<SystemInfo | undefined> {
  const dir = systemDir();
  try {
    const info = JSON.parse(await readFile(join(dir, 'system.json'), 'utf8')) as SystemInfo;
    if (!info || info.layout !== SYSTEM_LAYOUT || typeof info.disk !== 'string') return undefined;
    const located = { ...info, dir, disk: join(dir, basename(info.disk)) };
    if (!(await stat(located.disk)).isFile()) return undefined;
    return located;
  } catch {
    return undefined;
  }
}

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const HOST_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const SSH_KEY = /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\n]*)?$/;

/** Checks the options a user gave; throws GuestFetchError naming the bad one. */
export function checkSystemOptions(o: SystemOptions): void {
  if (o.user !== undefined && (!USER_NAME.test(o.user) || o.user === 'root'))
    throw new GuestFetchError(`--user '${o.user}': a user name is lower-case letters, digits, _ and - (not root)`);
  if (o.hostname !== undefined && !HOST_NAME.test(o.hostname))
    throw new GuestFetchError(`--hostname '${o.hostname}' is not a host name (letters, digits and -, at most 63)`);
  for (const [flag, p] of [
    ['--password', o.password],
    ['--root-password', o.rootPassword],
  ] as const)
    if (p !== undefined && (p.length === 0 || /[\n\r\0]/.test(p)))
      throw new GuestFetchError(`${flag}: a password must be non-empty and on one line`);
  for (const k of o.sshKeys ?? [])
    if (!SSH_KEY.test(k.trim())) throw new GuestFetchError(`not an SSH public key: '${k.trim().slice(0, 40)}...'`);
  if (
    o.diskSize !== undefined &&
    (!Number.isSafeInteger(o.diskSize) || o.diskSize < 2 * GiB || o.diskSize > 2048 * GiB)
  )
    throw new GuestFetchError('the disk size must be between 2 GiB and 2 TiB');
}

const generatePassword = () => randomBytes(12).toString('base64url');

export async function fetchDebianSystem(o: SystemOptions = {}): Promise<SystemBuild> {
  checkSystemOptions(o);
  const say = o.progress ?? (() => {});
  if (!o.force) {
    const have = await loadDebianSystem();
    if (have) return { info: have, generated: {}, built: false };
  }
  const root = cacheDir();
  const build = join(root, 'build', DEBIAN_SYSTEM);
  await mkdir(build, { recursive: true });
  const lock = await takeBuildLock(build);
  try {
    return await buildSystem(o, root, build, say);
  } finally {
    await lock.close();
    await rm(join(build, 'lock'), { force: true });
  }
}

/** One build at a time per cache: a second `guest fetch debian` says so instead of racing. */
async function takeBuildLock(build: string) {
  const path = join(build, 'lock');
  try {
    const fh = await open(path, 'wx');
    await fh.writeFile(`${process.pid}\n`);
    return fh;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (pid > 0 && isAlive(pid))
      throw new GuestFetchError(`another virtkit (pid ${pid}) is building the Debian system in ${build}`);
    await rm(path, { force: true });
    return takeBuildLock(build);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function buildSystem(
  o: SystemOptions,
  root: string,
  build: string,
  say: (m: string) => void,
): Promise<SystemBuild> {
  const t0 = Date.now();
  const hostname = o.hostname ?? 'debian';
  const user = o.user ?? 'debian';
  const generated: SystemBuild['generated'] = {};
  const password = o.password ?? (generated.password = generatePassword());
  const rootPassword = o.rootPassword ?? (generated.rootPassword = generatePassword());
  const diskSize = o.diskSize ?? DEFAULT_SYSTEM_DISK;

  // The kernel and initramfs that run the second stage: the default guest's.
  say('stage 1/4: the default guest (it runs the in-guest configuration)');
  const helper = await fetchDefaultGuest({ progress: (m) => say(`  ${m}`) });

  const apt = await trixieApt(root, (m) => say(`stage 1/4: ${m}`));
  let plan: PlannedPackage[];
  try {
    plan = await planPackages(apt, o.packages ?? []);
  } catch (e) {
    throw e instanceof GuestFetchError ? e : new GuestFetchError((e as Error).message);
  }
  const kernelPackage = plan.find((p) => /^linux-image-\d/.test(p.name))?.name;
  if (!kernelPackage) throw new GuestFetchError('the package plan has no linux-image package');
  say(`stage 1/4: downloading ${plan.length} packages`);
  const debs = await apt.downloadExact(plan, join(root, 'debs'), (done, total) =>
    say(`  downloaded ${done} of ${total} packages`),
  );
  const tDownload = Date.now();

  // Stage 2 (host): the root filesystem.
  const rootfs = join(build, 'rootfs');
  const staging = join(build, 'staging');
  const raw = join(build, 'disk.raw');
  await rm(rootfs, { recursive: true, force: true });
  await rm(staging, { recursive: true, force: true });
  await rm(raw, { force: true });
  const rootUuid = randomUUID();
  const config: SystemConfig = { hostname, rootUuid, user, sshKeys: o.sshKeys ?? [] };
  const debName = (i: number) => basename(debs[i]!);
  const baseDebs = plan.flatMap((p, i) => (p.base ? [debName(i)] : []));
  const restDebs = plan.flatMap((p, i) => (p.base ? [] : [debName(i)]));
  const files: Record<string, string> = {
    ...systemFiles(config),
    [`${STAGE_DIR}/configure.sh`]: configureScript(config, baseDebs, restDebs),
    [`${STAGE_DIR}/stage2.sh`]: stage2Script(),
    [`${STAGE_DIR}/credentials`]: `root:${rootPassword}\n${user}:${password}\n`,
  };
  for (const [path, text] of Object.entries(files)) {
    const p = join(staging, path);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, text, { mode: path.endsWith('.sh') ? 0o755 : path.endsWith('credentials') ? 0o600 : 0o644 });
  }
  say('stage 2/4: the kernel module index (depmod -b on the host)');
  await hostDepmod(debs[plan.findIndex((p) => p.name === kernelPackage)]!, join(build, 'kmods'), staging);
  await mkdir(join(staging, STAGE_DIR, 'debs'), { recursive: true });
  for (const d of debs) {
    const dest = join(staging, STAGE_DIR, 'debs', basename(d));
    await link(d, dest).catch(() => copyFile(d, dest));
  }
  // base-files first: it holds the merged-/usr symlinks (/bin -> usr/bin, ...).
  const unpackOrder = plan
    .map((p, i) => ({ p, deb: debs[i]! }))
    .filter((x) => x.p.base)
    .sort((a, b) => Number(b.p.name === 'base-files') - Number(a.p.name === 'base-files'));
  const partSize = Math.floor((diskSize - PART_START - MiB) / MiB) * MiB;
  await writeDiskLabel(raw, diskSize, partSize);
  say(`stage 2/4: unpacking ${unpackOrder.length} required packages and writing the filesystem (mke2fs -d)`);
  await runHostStage(
    hostStageScript({
      rootfs,
      staging,
      debs: unpackOrder.map((x) => x.deb),
      raw,
      offset: PART_START,
      sizeKiB: partSize / 1024,
      uuid: rootUuid,
    }),
    build,
    (n) => say(`  unpacked ${n} of ${unpackOrder.length}`),
  );
  await rm(rootfs, { recursive: true, force: true });
  await rm(staging, { recursive: true, force: true });
  const tUnpack = Date.now();

  say(`stage 3/4: installing and configuring ${plan.length} packages inside virtkit (dpkg, maintainer scripts)`);
  const logFile = join(build, 'stage2.log');
  await rm(logFile, { force: true });
  let lastPhase = '';
  let lastReport = 0;
  const s2 = await runStage2({
    kernel: new Uint8Array(await readFile(helper.kernel)),
    initrd: new Uint8Array(await readFile(helper.initrd)),
    disk: raw,
    total: plan.length,
    logFile,
    progress: (p) => {
      const now = Date.now();
      if (p.phase === lastPhase && now - lastReport < 2000) return;
      lastPhase = p.phase;
      lastReport = now;
      say(
        `  ${p.phase}: unpacked ${Math.min(p.unpacked, plan.length)}, set up ${Math.min(p.configured, plan.length)} of ${plan.length} packages`,
      );
    },
  });
  say(`  configured in ${s2.seconds.toFixed(0)} s (${(s2.instructions / 1e9).toFixed(1)} billion guest instructions)`);
  const tConfigure = Date.now();

  say('stage 4/4: writing the read-only base image (qcow2)');
  const dir = systemDir();
  await mkdir(dir, { recursive: true });
  const disk = join(dir, 'base.qcow2');
  const tmp = `${disk}.tmp`;
  await rm(tmp, { force: true });
  let lastPct = -1;
  await imgConvert(nodeImgContext(), [raw], tmp, {
    sourceFormat: 'raw',
    format: 'qcow2',
    onProgress: (done, total) => {
      const pct = Math.floor((done / total) * 100);
      if (pct >= lastPct + 10) say(`  ${(lastPct = pct)}%`);
    },
  });
  await chmod(tmp, 0o444);
  await rm(disk, { force: true });
  await rename(tmp, disk);
  await rm(raw, { force: true });
  const tConvert = Date.now();

  const info: SystemInfo = {
    name: DEBIAN_SYSTEM,
    layout: SYSTEM_LAYOUT,
    dir,
    disk,
    diskSize,
    kernelPackage,
    packages: plan.length,
    hostname,
    user,
    rootUuid,
    builtAt: new Date().toISOString(),
    seconds: {
      download: (tDownload - t0) / 1000,
      unpack: (tUnpack - tDownload) / 1000,
      configure: (tConfigure - tUnpack) / 1000,
      convert: (tConvert - tConfigure) / 1000,
    },
    configureInstructions: s2.instructions,
  };
  await writeFile(join(dir, 'system.json'), JSON.stringify(info, null, 2) + '\n');
  return { info, generated, built: true };
}

/** A sparse raw disk of diskSize with a GPT holding one Linux partition (bootable for U-Boot). */
async function writeDiskLabel(raw: string, diskSize: number, partSize: number): Promise<void> {
  const gpt = buildGpt({
    diskSize,
    diskGuid: randomUUID(),
    partitions: [
      { start: PART_START, size: partSize, type: 'linux', uuid: randomUUID(), name: 'debian-root', bootable: true },
    ],
  });
  const fh = await open(raw, 'w');
  try {
    await fh.truncate(diskSize);
    await fh.write(gpt.primary, 0, gpt.primary.length, 0);
    await fh.write(gpt.backup, 0, gpt.backup.length, gpt.backupOffset);
  } finally {
    await fh.close();
  }
}

/**
 * Makes the kernel package's module index with the host's depmod (kmod) and puts the files it
 * wrote into staging, marked for the in-guest depmod wrapper (debian-system-scripts.ts).
 */
async function hostDepmod(kernelDeb: string, work: string, staging: string): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const sh = (script: string, what: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn('sh', ['-c', script], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, LC_ALL: 'C' },
      });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4096)));
      child.on('close', (code) =>
        code === 0
          ? resolve()
          : reject(
              new GuestFetchError(`${what} failed (exit ${code}): ${err.trim().split('\n').slice(-2).join(' / ')}`),
            ),
      );
    });
  try {
    await sh(
      `dpkg-deb --fsys-tarfile ${sq(kernelDeb)} | tar -x -C ${sq(work)} --wildcards './usr/lib/modules/*'`,
      'unpacking the kernel modules',
    );
    const modRoot = join(work, 'usr', 'lib', 'modules');
    const [version] = await readdir(modRoot);
    if (!version) throw new GuestFetchError(`${basename(kernelDeb)} has no /usr/lib/modules/VERSION`);
    const dir = join(modRoot, version);
    const shipped = new Set(await readdir(dir));
    const depmod = ['/usr/sbin/depmod', '/sbin/depmod'];
    let found: string | undefined;
    for (const d of depmod)
      if (
        await stat(d).then(
          () => true,
          () => false,
        )
      )
        found = d;
    if (!found) throw new GuestFetchError("depmod not found: building the Debian system needs the host's kmod package");
    await sh(`${found} -b ${sq(join(work, 'usr'))} ${sq(version)}`, 'depmod -b');
    const out = join(staging, 'usr', 'lib', 'modules', version);
    await mkdir(out, { recursive: true });
    for (const f of await readdir(dir))
      if (f.startsWith('modules.') && !shipped.has(f)) await copyFile(join(dir, f), join(out, f));
    await writeFile(join(out, HOST_DEPMOD_MARK), '');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface HostStage {
  rootfs: string;
  staging: string;
  debs: string[];
  raw: string;
  offset: number;
  sizeKiB: number;
  uuid: string;
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The host half as one shell script, so that under fakeroot (not root) every file it unpacks or
 * copies is recorded as root's and mke2fs writes it so.
 */
export function hostStageScript(h: HostStage): string {
  return [
    'set -e',
    `mkdir -p ${sq(h.rootfs)}`,
    'n=0',
    ...h.debs.map(
      (d) =>
        `dpkg-deb --fsys-tarfile ${sq(d)} | tar -x -C ${sq(h.rootfs)} --keep-directory-symlink; n=$((n+1)); echo "unpacked $n"`,
    ),
    `cp -a ${sq(h.staging)}/. ${sq(h.rootfs)}/`,
    `mke2fs -q -F -t ext4 -L debian-root -U ${h.uuid} -E offset=${h.offset},root_owner=0:0 -d ${sq(h.rootfs)} ${sq(h.raw)} ${h.sizeKiB}k`,
    'echo mke2fs-done',
    '',
  ].join('\n');
}

async function runHostStage(script: string, build: string, unpacked: (n: number) => void): Promise<void> {
  const file = join(build, 'host-stage.sh');
  await writeFile(file, script);
  const asRoot = process.getuid?.() === 0;
  const [cmd, args] = asRoot ? ['sh', [file]] : ['fakeroot', ['--', 'sh', file]];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let err = '';
    let out = '';
    let last = 0;
    child.stdout.on('data', (b: Buffer) => {
      out = (out + b.toString()).slice(-4096);
      const m = /unpacked (\d+)\n(?![\s\S]*unpacked)/.exec(out);
      if (m && Number(m[1]) >= last + 10) unpacked((last = Number(m[1])));
    });
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-8192)));
    child.on('error', (e) =>
      reject(
        new GuestFetchError(
          (e as NodeJS.ErrnoException).code === 'ENOENT'
            ? `${cmd} not found: building the Debian system needs dpkg-deb, tar, e2fsprogs${asRoot ? '' : ' and fakeroot'}`
            : e.message,
        ),
      ),
    );
    child.on('close', (code) => {
      if (code === 0 && out.includes('mke2fs-done')) resolve();
      else
        reject(
          new GuestFetchError(
            `unpacking or mke2fs failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' / ')}`,
          ),
        );
    });
  });
}
