/**
 * A guest `reboot` rebuilds the board and boots again in the same process: the shell is used,
 * rebooted, used again after the second boot, and powered off with status 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureGuest, GUEST_PROMPT as PROMPT, KERNEL_BANNER, VirtkitSession, virtkit } from '../support/virtkit.ts';

test('reboot -f boots the guest again; the new shell answers and powers off', { timeout: 600_000 }, async () => {
  ensureGuest();
  const s = new VirtkitSession(['run', '--memory', '256M']);
  let at = await s.waitFor(PROMPT);
  s.send('echo "@@A $((6*7))"\n');
  at = await s.waitFor(/@@A 42/, at);
  s.send('reboot -f\n');
  at = await s.waitFor(/Linux version \d/, at);
  at = await s.waitFor(PROMPT, at);
  s.send('echo "@@B $((6*7))"\n');
  await s.waitFor(/@@B 42/, at);
  s.send('poweroff -f\n');
  const r = await s.end();
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  assert.equal(r.stdout.match(KERNEL_BANNER)?.length, 2, 'the kernel banner appears once per boot');
});

test('a piped script with commands after reboot -f runs them in the second boot', { timeout: 600_000 }, async () => {
  ensureGuest();
  // All in one pipe, ready long before the guest: the lines after the reboot must wait for the new shell.
  const r = await virtkit(
    ['run', '--memory', '256M'],
    'echo "@@A $((6*7))"\nreboot -f\necho "@@B $((6*7))"\n:\necho "@@C $(uname -m)"\npoweroff -f\n',
    300_000, // killed (exit by signal, failing below) if the lines after the reboot never arrive
  );
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  const banners = [...r.stdout.matchAll(KERNEL_BANNER)].map((m) => m.index);
  assert.equal(banners.length, 2, 'the kernel banner appears once per boot');
  const a = r.stdout.indexOf('@@A 42');
  const b = r.stdout.indexOf('@@B 42');
  const c = r.stdout.indexOf('@@C riscv64');
  assert.ok(a >= 0 && a < banners[1]!, '@@A answered by the first boot');
  assert.ok(b > banners[1]! && c > b, '@@B and @@C answered by the second boot, in order');
});
