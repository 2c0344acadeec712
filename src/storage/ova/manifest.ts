/**
 * OVF manifests (.mf): one line per file, "SHA256(name)= hex" (or SHA1, as OVF 1.0 tools wrote).
 */
import { StorageError } from '../types.ts';

export type ManifestAlgorithm = 'SHA1' | 'SHA256';

export interface ManifestLine {
  algorithm: ManifestAlgorithm;
  file: string;
  digest: string;
}

const MAX_LINES = 10_000;

export function parseManifest(text: string, where: string): ManifestLine[] {
  const out: ManifestLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(SHA1|SHA256|SHA512|SHA384|MD5)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)$/.exec(line);
    if (!m) throw new StorageError('corrupt', `ovf: ${where}: malformed manifest line '${line.slice(0, 100)}'`);
    const algorithm = m[1]!;
    if (algorithm !== 'SHA1' && algorithm !== 'SHA256')
      throw new StorageError('unsupported', `ovf: ${where}: digest algorithm ${algorithm} for ${m[2]}`);
    const digest = m[3]!.toLowerCase();
    if (digest.length !== (algorithm === 'SHA1' ? 40 : 64))
      throw new StorageError(
        'corrupt',
        `ovf: ${where}: ${algorithm} digest of ${m[2]} has ${digest.length} hex digits`,
      );
    if (out.length >= MAX_LINES) throw new StorageError('corrupt', `ovf: ${where}: more than ${MAX_LINES} lines`);
    out.push({ algorithm, file: m[2]!, digest });
  }
  return out;
}

export function manifestLine(l: ManifestLine): string {
  return `${l.algorithm}(${l.file})= ${l.digest}\n`;
}
