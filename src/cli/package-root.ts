/**
 * Where virtkit's package lies on disk, and its version. This module runs from two places at the
 * same depth below the package root: src/cli/ (a checkout, through tsx) and dist/cli/ or
 * dist/cli/chunks/ (the esbuild bundle, scripts/build.ts). The root is found by walking up to the
 * package.json named "virtkit", so a change of bundle layout cannot silently point it elsewhere.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface PackageJson {
  name?: string;
  version?: string;
}

let found: { root: string; pkg: PackageJson } | undefined;

function locate(): { root: string; pkg: PackageJson } {
  if (found) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  // At most a few levels: src/cli, dist/cli, dist/cli/chunks.
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
      if (pkg.name === 'virtkit') return (found = { root: dir, pkg });
    } catch {
      // no package.json here: keep walking up
    }
    dir = dirname(dir);
  }
  throw new Error(`cannot find virtkit's package.json above ${fileURLToPath(import.meta.url)}`);
}

/** The package's root directory (holds package.json, bin/, web/). */
export function packageRoot(): string {
  return locate().root;
}

/** The version in package.json. */
export function packageVersion(): string {
  return locate().pkg.version ?? 'unknown';
}
