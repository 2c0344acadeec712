/**
 * The firmware cache: a real fetch of Debian trixie's opensbi and u-boot-qemu through the private
 * apt configuration (network, as the boot tests' guest fetch), and loadFirmware's refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIRMWARE_LAYOUT, fetchFirmware, firmwareDir, loadFirmware } from './firmware.ts';
import { parseImageHeader } from '../../../machine/kernel-image.ts';

const root = mkdtempSync(join(tmpdir(), 'virtkit-fw-'));
const saved = process.env.VIRTKIT_CACHE;
test.after(() => {
  if (saved === undefined) delete process.env.VIRTKIT_CACHE;
  else process.env.VIRTKIT_CACHE = saved;
  rmSync(root, { recursive: true, force: true });
});

function fakeCache(
  name: string,
  info: Record<string, unknown>,
  files = ['fw_jump.bin', 'fw_dynamic.bin', 'u-boot.bin'],
) {
  const cache = join(root, name);
  const dir = join(cache, 'firmware');
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f), 'x');
  const recorded = '/moved/away/firmware';
  writeFileSync(
    join(dir, 'firmware.json'),
    JSON.stringify({
      dir: recorded,
      fwJump: `${recorded}/fw_jump.bin`,
      fwDynamic: `${recorded}/fw_dynamic.bin`,
      uboot: `${recorded}/u-boot.bin`,
      opensbiVersion: '1.6-1',
      ubootVersion: '2025.01-3',
      fetchedAt: '2026-01-01T00:00:00.000Z',
      layout: FIRMWARE_LAYOUT,
      ...info,
    }),
  );
  return cache;
}

test('loadFirmware finds files beside firmware.json and refuses incomplete or foreign entries', async () => {
  process.env.VIRTKIT_CACHE = fakeCache('good', {});
  const fw = await loadFirmware();
  assert.equal(fw?.uboot, join(firmwareDir(), 'u-boot.bin'));
  assert.equal(fw?.fwJump, join(firmwareDir(), 'fw_jump.bin'));
  assert.equal(fw?.opensbiVersion, '1.6-1');
  process.env.VIRTKIT_CACHE = fakeCache('missing-uboot', {}, ['fw_jump.bin', 'fw_dynamic.bin']);
  assert.equal(await loadFirmware(), undefined);
  process.env.VIRTKIT_CACHE = fakeCache('old-layout', { layout: FIRMWARE_LAYOUT + 1 });
  assert.equal(await loadFirmware(), undefined);
  process.env.VIRTKIT_CACHE = fakeCache('bad-json', { uboot: 7 });
  assert.equal(await loadFirmware(), undefined);
  process.env.VIRTKIT_CACHE = join(root, 'empty');
  assert.equal(await loadFirmware(), undefined);
});

test('fetchFirmware downloads opensbi and u-boot-qemu (arch all) through the private apt configuration', async () => {
  process.env.VIRTKIT_CACHE = join(root, 'fetched');
  const said: string[] = [];
  const fw = await fetchFirmware({ progress: (m) => said.push(m) });
  assert.ok(
    said.some((m) => /downloading opensbi \S+ and u-boot-qemu \S+/.test(m)),
    said.join('\n'),
  );
  assert.match(fw.opensbiVersion, /^\d/);
  assert.match(fw.ubootVersion, /^\d/);
  // OpenSBI's banner text and U-Boot's version string are in the binaries; neither is an Image or ELF.
  const jump = readFileSync(fw.fwJump);
  assert.ok(jump.includes('OpenSBI'), 'fw_jump.bin without OpenSBI in it');
  assert.ok(readFileSync(fw.fwDynamic).includes('OpenSBI'));
  const uboot = readFileSync(fw.uboot);
  assert.ok(uboot.includes(`U-Boot ${fw.ubootVersion.replace(/-.*/, '')}`), 'u-boot.bin of another version');
  assert.equal(parseImageHeader(uboot), undefined);
  assert.notEqual(uboot.subarray(0, 4).toString('latin1'), '\x7fELF');
  // The versions are what the private apt configuration offers.
  const policy = execFileSync('apt-cache', ['policy', 'u-boot-qemu'], {
    env: { ...process.env, APT_CONFIG: join(root, 'fetched', 'apt', 'apt.conf'), LC_ALL: 'C' },
    encoding: 'utf8',
  });
  assert.match(policy, new RegExp(`Candidate: ${fw.ubootVersion.replace(/[+.]/g, '\\$&')}`));
  // Cached now: loadFirmware and a second fetch return it without fetching again.
  assert.deepEqual(await loadFirmware(), fw);
  const again: string[] = [];
  assert.deepEqual(await fetchFirmware({ progress: (m) => again.push(m) }), fw);
  assert.deepEqual(again, []);
});
