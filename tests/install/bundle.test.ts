/**
 * The shape of the CLI bundle (scripts/build.ts), which decides start-up time: what each command
 * loads before it runs is the static-import closure of its chunk. `--version` loads the small
 * main chunk only; `img` never loads the emulator (CPU, boards, devices, VM driver).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { buildCli } from '../../scripts/build.ts';

const out = mkdtempSync(join(tmpdir(), 'virtkit-bundle-'));
test.after(() => rmSync(out, { recursive: true, force: true }));
const { record, metafile } = await buildCli(join(out, 'cli'));

/** The output file whose entry point (or dynamic-import target) is `source`. */
function outputOf(meta: Metafile, source: string): string {
  const hit = Object.entries(meta.outputs).find(([, o]) => o.entryPoint === source);
  assert.ok(hit, `no chunk for ${source}`);
  return hit[0];
}

/** The chunks an output loads before running (itself and its static imports, transitively). */
function staticClosure(meta: Metafile, start: string): { inputs: string[]; bytes: number } {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const o = todo.pop()!;
    if (seen.has(o)) continue;
    seen.add(o);
    for (const imp of meta.outputs[o]!.imports) {
      if (imp.kind === 'import-statement' && !imp.external) todo.push(imp.path);
    }
  }
  const outs = [...seen].map((o) => meta.outputs[o]!);
  return { inputs: outs.flatMap((o) => Object.keys(o.inputs)), bytes: outs.reduce((n, o) => n + o.bytes, 0) };
}

test('--version and the dispatcher load a few kilobytes', () => {
  const main = staticClosure(metafile, outputOf(metafile, 'src/cli/main.ts'));
  assert.ok(main.bytes < 16 * 1024, `${main.bytes} bytes`);
  for (const input of main.inputs) assert.match(input, /^src\/cli\/|^src\/host\/node\/guest\/errors\.ts$/);
});

test('img loads the image formats, not the emulator', () => {
  const img = staticClosure(metafile, outputOf(metafile, 'src/cli/img.ts'));
  assert.ok(img.inputs.some((i) => i.startsWith('src/storage/qcow2/')));
  const emulator = img.inputs.filter((i) => /^src\/(riscv|machine|devices|virtio|vmm)\//.test(i));
  assert.deepEqual(emulator, []);
});

test('the build record lists the sources bin/virtkit checks for staleness', () => {
  assert.ok(record.inputs.includes('src/cli/main.ts'));
  assert.ok(record.inputs.includes('src/riscv/hart.ts'));
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'cli', 'build.json'), 'utf8')), record);
});
