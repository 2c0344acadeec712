/**
 * Downloads Debian packages for a foreign architecture with `apt-get download`, through a private
 * apt configuration rooted in virtkit's cache directory. The host's own apt sources, lists and
 * state are never read or changed: every Dir:: setting points inside `root`.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GuestFetchError } from './errors.ts';

const run = promisify(execFile);

export interface AptSource {
  mirror: string;
  suite: string;
  components: string[];
  arch: string;
  keyring: string;
}

export const DEBIAN_TRIXIE_RISCV64: AptSource = {
  mirror: 'http://deb.debian.org/debian',
  suite: 'trixie',
  components: ['main'],
  arch: 'riscv64',
  keyring: '/usr/share/keyrings/debian-archive-keyring.gpg',
};

/**
 * The private apt of virtkit's cache for Debian trixie riscv64, prepared and with fresh package
 * lists: what every guest and firmware fetch starts from.
 */
export async function trixieApt(cacheRoot: string, say: (msg: string) => void): Promise<PrivateApt> {
  const apt = new PrivateApt(join(cacheRoot, 'apt'), DEBIAN_TRIXIE_RISCV64);
  say('preparing a private apt configuration for Debian trixie riscv64');
  await apt.prepare();
  say('updating package lists (apt-get update, private configuration)');
  await apt.update();
  return apt;
}

export class PrivateApt {
  readonly configFile: string;

  constructor(
    readonly root: string,
    readonly source: AptSource,
  ) {
    this.configFile = join(root, 'apt.conf');
  }

  /** Writes the private configuration and directory tree (idempotent). */
  async prepare(): Promise<void> {
    const dirs = [
      'etc/apt/sources.list.d',
      'etc/apt/apt.conf.d',
      'etc/apt/preferences.d',
      'etc/apt/trusted.gpg.d',
      'var/lib/apt/lists/partial',
      'var/cache/apt/archives/partial',
      'var/lib/dpkg',
      'log',
    ];
    for (const d of dirs) await mkdir(join(this.root, d), { recursive: true });
    await writeFile(join(this.root, 'var/lib/dpkg/status'), '', { flag: 'a' });
    const s = this.source;
    await writeFile(
      join(this.root, 'etc/apt/sources.list'),
      `deb [arch=${s.arch} signed-by=${s.keyring}] ${s.mirror} ${s.suite} ${s.components.join(' ')}\n`,
    );
    const r = this.root;
    const conf = [
      `Dir "${r}/";`,
      `Dir::State "${r}/var/lib/apt/";`,
      `Dir::State::status "${r}/var/lib/dpkg/status";`,
      `Dir::Cache "${r}/var/cache/apt/";`,
      `Dir::Etc "${r}/etc/apt/";`,
      `Dir::Etc::SourceList "${r}/etc/apt/sources.list";`,
      `Dir::Etc::SourceParts "${r}/etc/apt/sources.list.d/";`,
      `Dir::Etc::Parts "${r}/etc/apt/apt.conf.d/";`,
      `Dir::Etc::Preferences "${r}/etc/apt/preferences";`,
      `Dir::Etc::PreferencesParts "${r}/etc/apt/preferences.d/";`,
      `Dir::Etc::TrustedParts "${r}/etc/apt/trusted.gpg.d/";`,
      `Dir::Log "${r}/log/";`,
      `APT::Architecture "${s.arch}";`,
      `APT::Architectures { "${s.arch}"; };`,
      `Acquire::Languages "none";`,
      `APT::Sandbox::User "root";`,
      '',
    ].join('\n');
    await writeFile(this.configFile, conf);
  }

  private async apt(cmd: string, args: string[], cwd?: string): Promise<string> {
    try {
      const { stdout } = await run(cmd, args, {
        cwd,
        env: { ...process.env, APT_CONFIG: this.configFile, LC_ALL: 'C' },
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout;
    } catch (e) {
      const err = e as { code?: string; stderr?: string; message: string };
      if (err.code === 'ENOENT')
        throw new GuestFetchError(`${cmd} not found: virtkit fetches guests with Debian's apt tools`);
      const detail = (err.stderr ?? err.message).trim().split('\n').filter(Boolean).slice(-2).join(' / ');
      throw new GuestFetchError(`${cmd} ${args.join(' ')} failed: ${detail}`);
    }
  }

  async update(): Promise<void> {
    await this.apt('apt-get', ['-q', 'update']);
  }

  /** Resolves a (virtual or meta) package to the first real dependency matching a pattern, e.g. linux-image-riscv64 -> linux-image-6.12...-riscv64. */
  async resolveDependency(pkg: string, pattern: RegExp): Promise<string> {
    const out = await this.apt('apt-cache', ['depends', pkg]);
    for (const line of out.split('\n')) {
      const m = /^\s*Depends:\s*(\S+)/.exec(line);
      if (m && pattern.test(m[1]!)) return m[1]!;
    }
    throw new GuestFetchError(`cannot resolve ${pkg}: no dependency matching ${pattern}`);
  }

  async version(pkg: string): Promise<string> {
    const out = await this.apt('apt-cache', ['policy', pkg]);
    const m = /Candidate:\s*(\S+)/.exec(out);
    if (!m || m[1] === '(none)')
      throw new GuestFetchError(`package ${pkg} not found in ${this.source.suite}/${this.source.arch}`);
    return m[1]!;
  }

  /**
   * The packages apt would install for `wanted` on an empty system (dependencies resolved,
   * Recommends left out), in apt's installation order: the closure a debootstrap-like build needs.
   * Patterns such as `?priority(required)` are apt's own.
   */
  async resolveInstall(wanted: string[]): Promise<{ name: string; version: string }[]> {
    const out = await this.apt('apt-get', [
      '-s',
      '-q',
      '-o',
      'Debug::NoLocking=1',
      '--no-install-recommends',
      'install',
      ...wanted,
    ]);
    const pkgs: { name: string; version: string }[] = [];
    for (const line of out.split('\n')) {
      // "Inst libc6 (2.41-12 Debian:13.2/stable [riscv64])"
      const m = /^Inst (\S+) \((\S+)/.exec(line);
      if (m) pkgs.push({ name: m[1]!, version: m[2]! });
    }
    if (pkgs.length === 0) throw new GuestFetchError(`apt resolved nothing to install for ${wanted.join(' ')}`);
    return pkgs;
  }

  /** The Priority and Essential fields of each package's candidate version. */
  async fields(pkgs: string[]): Promise<Map<string, { priority: string; essential: boolean }>> {
    const out = await this.apt('apt-cache', ['show', '--no-all-versions', ...pkgs]);
    const map = new Map<string, { priority: string; essential: boolean }>();
    for (const para of out.split(/\n\n+/)) {
      const name = /^Package: (\S+)/m.exec(para)?.[1];
      if (!name) continue;
      map.set(name, {
        priority: /^Priority: (\S+)/m.exec(para)?.[1] ?? 'optional',
        essential: /^Essential: yes/m.test(para),
      });
    }
    return map;
  }

  /** Downloads the .deb files into dir and returns their paths, in the order of pkgs. */
  async download(pkgs: string[], dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    await this.apt('apt-get', ['-q', 'download', ...pkgs], dir);
    const files = await readdir(dir);
    return pkgs.map((p) => {
      const f = files.find((name) => name.startsWith(`${p}_`) && name.endsWith('.deb'));
      if (!f) throw new GuestFetchError(`apt-get download did not produce a .deb for ${p}`);
      return join(dir, f);
    });
  }

  /**
   * Downloads exact versions (as resolveInstall gave them) into dir, skipping those already there,
   * in batches so `progress(done, total)` can tell how far it is. Returns the paths in order.
   */
  async downloadExact(
    pkgs: { name: string; version: string }[],
    dir: string,
    progress?: (done: number, total: number) => void,
  ): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    const fileOf = (p: { name: string; version: string }, files: string[]) =>
      files.find((f) => f.startsWith(`${p.name}_${p.version.replace(/:/g, '%3a')}_`) && f.endsWith('.deb'));
    let files = await readdir(dir);
    const missing = pkgs.filter((p) => !fileOf(p, files));
    const BATCH = 16;
    for (let i = 0; i < missing.length; i += BATCH) {
      progress?.(pkgs.length - missing.length + i, pkgs.length);
      const batch = missing.slice(i, i + BATCH).map((p) => `${p.name}=${p.version}`);
      await this.apt('apt-get', ['-q', 'download', ...batch], dir);
    }
    progress?.(pkgs.length, pkgs.length);
    files = await readdir(dir);
    return pkgs.map((p) => {
      const f = fileOf(p, files);
      if (!f) throw new GuestFetchError(`apt-get download did not produce a .deb for ${p.name} ${p.version}`);
      return join(dir, f);
    });
  }
}
