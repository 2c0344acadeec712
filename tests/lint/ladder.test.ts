/**
 * The layer ladder is enforced by the linter (scripts/eslint-ladder.js): a deliberate upward
 * import fails, imports down the ladder pass, and the real tree is clean.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function ladderErrors(code: string, filePath: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  return r!.messages.filter((m) => m.ruleId === 'house/ladder').map((m) => m.message);
}

test('the fixture with an upward import fails the ladder rule', async () => {
  const code = readFileSync(new URL('./fixtures/upward-import.ts.txt', import.meta.url), 'utf8');
  const errors = await ladderErrors(code, `${root}src/riscv/upward-fixture.ts`);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /src\/riscv\/ may not import src\/machine\//);
});

test('every kind of upward or sideways import is refused', async () => {
  const cases: Array<[string, string]> = [
    ['src/vmm/x.ts', "import '../host/node/console.ts';"],
    ['src/virtio/x.ts', "export { Uart16550 } from '../devices/uart16550.ts';"],
    ['src/storage/qcow2/x.ts', "const m = await import('../../net/tso.ts'); export { m };"],
    ['src/memory/x.ts', "import type { Hart } from '../riscv/hart.ts'; export type H = Hart;"],
    ['src/host/browser/x.ts', "import '../../cli/main.ts';"],
  ];
  for (const [file, code] of cases) {
    const errors = await ladderErrors(code, `${root}${file}`);
    assert.equal(errors.length, 1, `${file}: ${code}`);
  }
});

test('imports down the ladder, within a layer and from front ends pass', async () => {
  const cases: Array<[string, string]> = [
    ['src/machine/x.ts', "import '../riscv/hart.ts'; import '../memory/bus.ts';"],
    ['src/virtio/x.ts', "import '../storage/types.ts'; import '../net/types.ts'; import './mmio.ts';"],
    ['src/host/node/net/x.ts', "import '../../../net/switch.ts'; import './sockets.ts';"],
    ['src/cli/x.ts', "import '../host/node/console.ts';"],
    ['tests/x.ts', "import '../src/host/node/console.ts';"],
  ];
  for (const [file, code] of cases) {
    assert.deepEqual(await ladderErrors(code, `${root}${file}`), [], `${file}: ${code}`);
  }
});

test('front ends may not import test support (the door to a Vm board is for tests)', async () => {
  const cases: Array<[string, string, number]> = [
    ['src/cli/x.ts', "import { boardOf } from '../vmm/testing.ts'; export { boardOf };", 1],
    ['src/host/browser/x.ts', "import '../../vmm/testing.ts';", 1],
    ['web/src/x.ts', "import '../../src/vmm/testing.ts';", 1],
    ['src/cli/x.test.ts', "import '../vmm/testing.ts';", 0],
    ['tests/x.ts', "import '../src/vmm/testing.ts';", 0],
  ];
  for (const [file, code, n] of cases) {
    const [r] = await eslint.lintText(code, { filePath: `${root}${file}` });
    const hits = r!.messages.filter((m) => m.ruleId === 'no-restricted-imports');
    assert.equal(hits.length, n, `${file}: ${code}`);
    if (n) assert.match(hits[0]!.message, /Test support is for tests/);
  }
});
