/**
 * SHA-256 and SHA-1 as OVA import/export and the snapshot disk fingerprint use them
 * (src/storage/ova/sha.ts), over 64 MiB fed in 1 MiB pieces, with node:crypto (OpenSSL) as the
 * reference point.
 *
 *   node --import tsx bench/storage/sha.ts [MiB] [runs]
 *
 * Prints MiB/s per run; nothing is asserted (the machine is shared).
 */
import { createHash } from 'node:crypto';
import { makeHash } from '../../src/storage/ova/sha.ts';

const MIB = Number(process.argv[2] ?? 64);
const RUNS = Number(process.argv[3] ?? 3);
const data = new Uint8Array(MIB << 20).map((_, i) => (i * 2654435761) >>> 24);
const PIECE = 1 << 20;

for (const alg of ['SHA256', 'SHA1'] as const) {
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    const h = makeHash(alg);
    for (let o = 0; o < data.length; o += PIECE) h.update(data.subarray(o, o + PIECE));
    const ours = h.hex();
    const msOurs = performance.now() - t;
    t = performance.now();
    const ref = createHash(alg.toLowerCase());
    for (let o = 0; o < data.length; o += PIECE) ref.update(data.subarray(o, o + PIECE));
    const theirs = ref.digest('hex');
    const msRef = performance.now() - t;
    if (ours !== theirs) throw new Error(`${alg} disagrees with node:crypto`);
    const rate = (ms: number) => `${(MIB / (ms / 1000)).toFixed(0)} MiB/s`;
    console.log(`${alg} ${MIB} MiB: ours ${msOurs.toFixed(0)} ms (${rate(msOurs)}), node:crypto ${rate(msRef)}`);
  }
}
