import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromptWatch, PROMPT_TAIL, endsInPrompt } from './prompt.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

test('a line ending in "# " or "$ " is a prompt, with or without a terminal query after it', () => {
  assert.equal(endsInPrompt('root@virtkit:/# '), true);
  assert.equal(endsInPrompt('user@host:~$ '), true);
  assert.equal(endsInPrompt('~ # \x1b[6n'), true);
  assert.equal(endsInPrompt('~ # \x1b[?25h\x1b[0m'), true);
  assert.equal(endsInPrompt('price: 5$'), false);
  assert.equal(endsInPrompt('# comment\n'), false);
  assert.equal(endsInPrompt(''), false);
});

test('PromptWatch follows output across chunks and keeps a bounded tail', () => {
  const w = new PromptWatch();
  assert.equal(w.feed(bytes('booting...\nroot@virtkit:/')), false);
  assert.equal(w.feed(bytes('# ')), true);
  assert.equal(w.feed(bytes('ls\n')), false);
  assert.equal(w.feed(bytes('x'.repeat(1 << 20) + '\n$ ')), true);
  assert.ok((w as unknown as { tail: string }).tail.length <= PROMPT_TAIL);
  w.reset();
  assert.equal(w.atPrompt, false);
});

test('a login prompt and a password prompt are prompts too (getty and login wait for a line)', () => {
  assert.equal(endsInPrompt('Debian GNU/Linux 13 debian ttyS0\r\n\r\ndebian login: '), true);
  assert.equal(endsInPrompt('Password: '), true);
  assert.equal(endsInPrompt('[  OK  ] Started login: not a prompt\n'), false);
  assert.equal(endsInPrompt('Last login: Mon Dec  7 10:00:00'), false);
});
