/**
 * `virtkit run --help` documents exactly the flags each mode accepts, and the exit statuses the
 * Linux mode can return: a flag added to a parser without a help line fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT_CANNOT_REBOOT, LINUX_FLAGS, LINUX_HELP } from './run-linux.ts';
import { BARE_METAL_FLAGS, BARE_METAL_HELP, EXIT_HTIF, EXIT_LIMIT, command } from './run.ts';

/** Flags named at the start of an option line (`  --name ARG   text`), besides -h/--help. */
function documentedFlags(help: string): string[] {
  const names: string[] = [];
  for (const line of help.split('\n')) {
    const m = /^ {2}(--[a-z][a-z0-9-]*)/.exec(line);
    if (m && m[1] !== '--help') names.push(m[1]!.slice(2));
  }
  return names.sort();
}

test('the Linux mode help has one option line per accepted flag, and no other', () => {
  assert.deepEqual(documentedFlags(LINUX_HELP), Object.keys(LINUX_FLAGS).sort());
});

test('the bare-metal help has one option line per accepted flag, and no other', () => {
  assert.deepEqual(documentedFlags(BARE_METAL_HELP), Object.keys(BARE_METAL_FLAGS).sort());
});

test('the help lists every exit status the run modes return', () => {
  assert.match(LINUX_HELP, new RegExp(`\\b${EXIT_CANNOT_REBOOT} a restored guest rebooted`));
  for (const code of [0, 1, 2, 70]) assert.match(LINUX_HELP, new RegExp(`(^|[ ,])${code} `, 'm'));
  for (const code of [EXIT_LIMIT, EXIT_HTIF]) assert.match(BARE_METAL_HELP, new RegExp(`^ {2}${code} `, 'm'));
});

test('virtkit run --help shows both modes', () => {
  assert.ok(command.help.includes(LINUX_HELP));
  assert.ok(command.help.includes(BARE_METAL_HELP));
});

test('the help says --restore takes its disks and NICs from the command line, checked against the snapshot', () => {
  const text = LINUX_HELP.replace(/\s+/g, ' ');
  assert.match(text, /--restore FILE .*names no host file .*give its disks again with --disk/);
  assert.match(text, /format, size and content fingerprint .*mismatch is refused, exit status 2/);
  assert.match(text, /as many --net as it had NICs/);
  assert.match(text, /before disk records cannot be checked: they restore with a warning/);
});
