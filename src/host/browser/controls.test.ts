import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlStates, type PagePhase } from './controls.ts';

const on = (phase: PagePhase, saving = false, haveBootSettings = true) =>
  Object.entries(controlStates({ phase, saving, haveBootSettings }))
    .filter(([, enabled]) => enabled)
    .map(([k]) => k)
    .join(' ');

test('before and while starting, only what can act is enabled', () => {
  assert.equal(on('idle', false, false), '');
  assert.equal(on('starting'), 'reboot');
  assert.equal(on('downloading'), 'reboot');
  assert.equal(on('opening disks'), 'reboot');
  assert.equal(on('booting'), 'reboot');
  assert.equal(on('restoring', false, false), '');
});

test('a live VM can be paused or resumed (not both) and saved once at a time', () => {
  assert.equal(on('running'), 'pause save power reboot');
  assert.equal(on('paused'), 'resume save power reboot');
  assert.equal(on('running', true), 'pause power reboot');
  assert.equal(on('paused', true), 'resume power reboot');
});

test('a stopped VM can only be booted again, and only with boot settings', () => {
  assert.equal(on('stopped'), 'reboot');
  assert.equal(on('stopped', false, false), '');
  assert.equal(on('running', false, false), 'pause save power');
});
