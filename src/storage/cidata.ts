/**
 * cloud-init's NoCloud seed: a FAT file system labelled CIDATA holding `meta-data`
 * (instance-id, local-hostname) and `user-data` (#cloud-config: hostname, one user with SSH keys,
 * a password set through chpasswd). Platform-neutral: the bytes of a raw disk image.
 */
import { buildFat12 } from './fat-image.ts';

export interface SeedConfig {
  instanceId: string;
  hostname?: string;
  /** Public keys (OpenSSH one-line format) for the user. */
  sshKeys?: string[];
  password?: string;
  /** The user to create (default `virtkit`). */
  user?: string;
}

/** A YAML double-quoted scalar (JSON's escapes are a subset YAML reads the same). */
const q = (s: string) => JSON.stringify(s);

export function seedFiles(c: SeedConfig): { metaData: string; userData: string } {
  const user = c.user ?? 'virtkit';
  const meta = [`instance-id: ${q(c.instanceId)}`];
  if (c.hostname !== undefined) meta.push(`local-hostname: ${q(c.hostname)}`);
  const u = ['#cloud-config'];
  if (c.hostname !== undefined) u.push(`hostname: ${q(c.hostname)}`);
  u.push('users:', '  - default', `  - name: ${q(user)}`, '    shell: /bin/sh', "    sudo: 'ALL=(ALL) NOPASSWD:ALL'");
  if (c.password === undefined) u.push('    lock_passwd: true');
  else u.push('    lock_passwd: false');
  if (c.sshKeys?.length) {
    u.push('    ssh_authorized_keys:');
    for (const k of c.sshKeys) u.push(`      - ${q(k)}`);
  }
  if (c.password !== undefined) {
    u.push('chpasswd:', '  expire: false', '  users:', `    - {name: ${q(user)}, password: ${q(c.password)}, type: text}`);
    u.push('ssh_pwauth: true');
  }
  return { metaData: meta.join('\n') + '\n', userData: u.join('\n') + '\n' };
}

export function buildSeedImage(c: SeedConfig): Uint8Array {
  const { metaData, userData } = seedFiles(c);
  const enc = new TextEncoder();
  return buildFat12('CIDATA', [
    { name: 'meta-data', data: enc.encode(metaData) },
    { name: 'user-data', data: enc.encode(userData) },
  ]);
}
