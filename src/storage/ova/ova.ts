/**
 * OVA packages: import (tar index -> descriptor -> manifest check -> VM definition + disk
 * stores) and export (VM definition + disk BlockBackends -> .ovf, .mf, streamOptimized VMDKs).
 */
import { findFormat } from '../registry.ts';
import { utf8Decode, utf8Encode } from '../text.ts';
import { StorageError } from '../types.ts';
import type { BlockBackend, ByteStore } from '../types.ts';
import { manifestLine, parseManifest } from './manifest.ts';
import type { ManifestLine } from './manifest.ts';
import { buildOvf } from './ovf-build.ts';
import type { BuildDisk } from './ovf-build.ts';
import { parseOvf, STREAM_OPTIMIZED_URI } from './ovf-parse.ts';
import type { OvfPackage } from './ovf-parse.ts';
import { makeHash } from './sha.ts';
import { SliceStore, WindowStore } from './slice-store.ts';
import { readTar, TarWriter } from './tar.ts';
import type { TarEntry } from './tar.ts';
import type { VmDefinition, VmDisk } from './vm.ts';
import { MAX_XML_CHARS } from './xml.ts';

const CHUNK = 1 << 20;

export interface ImportedDisk {
  disk: VmDisk;
  /** The disk file inside the OVA (read-only); open it with openImage(store, { format: disk.format }). */
  store: ByteStore;
}

export interface OvaImport {
  vm: VmDefinition;
  /** Disks that come with a file, in the order the hardware section attaches them. */
  disks: ImportedDisk[];
  descriptorName: string;
  ovfVersion: 1 | 2;
  /** Files whose digest the manifest listed and we verified. */
  verified: string[];
  /** Defaults taken for what the descriptor left out (see ovf-parse.ts); a CLI shows them on stderr. */
  warnings: string[];
}

export interface ImportOptions {
  /** Check the manifest digests (reads every disk once); default true. */
  verify?: boolean;
}

async function hashStore(
  store: ByteStore,
  offset: number,
  size: number,
  algorithm: ManifestLine['algorithm'],
): Promise<string> {
  const h = makeHash(algorithm);
  const buf = new Uint8Array(Math.min(CHUNK, size));
  for (let done = 0; done < size; done += buf.length) {
    const piece = buf.subarray(0, Math.min(buf.length, size - done));
    await store.read(offset + done, piece);
    h.update(piece);
  }
  return h.hex();
}

async function readText(store: ByteStore, e: TarEntry, limit: number): Promise<string> {
  if (e.size > limit) throw new StorageError('too-large', `ovf: ${e.name} is ${e.size} bytes, more than ${limit}`);
  const b = new Uint8Array(e.size);
  await store.read(e.offset, b);
  return utf8Decode(b);
}

export async function importOva(store: ByteStore, opts: ImportOptions = {}): Promise<OvaImport> {
  const entries = await readTar(store);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const ovfEntry = entries.find((e) => e.name.toLowerCase().endsWith('.ovf'));
  if (!ovfEntry) throw new StorageError('corrupt', `ova: ${store.name} contains no .ovf descriptor`);
  const pkg: OvfPackage = parseOvf(await readText(store, ovfEntry, MAX_XML_CHARS * 4));

  for (const f of pkg.files) {
    const e = byName.get(f.href);
    if (!e) throw new StorageError('not-found', `ova: ${store.name} lacks ${f.href}, which the descriptor references`);
    if (f.size !== undefined && f.size !== e.size) {
      throw new StorageError('corrupt', `ova: ${f.href} is ${e.size} bytes, the descriptor says ${f.size}`);
    }
  }

  const verified: string[] = [];
  const mfName = ovfEntry.name.replace(/\.ovf$/i, '.mf');
  const mfEntry = byName.get(mfName);
  if (mfEntry && opts.verify !== false) {
    const lines = parseManifest(await readText(store, mfEntry, 1 << 20), mfName);
    // Everything the VM is built from must be covered, or a tampered file would slip through.
    for (const name of [ovfEntry.name, ...pkg.files.map((f) => f.href)]) {
      if (!lines.some((l) => l.file === name))
        throw new StorageError('checksum', `ova: manifest ${mfName} does not cover ${name}`);
    }
    for (const l of lines) {
      const e = byName.get(l.file);
      if (!e) throw new StorageError('not-found', `ova: manifest lists ${l.file}, which is not in ${store.name}`);
      const got = await hashStore(store, e.offset, e.size, l.algorithm);
      if (got !== l.digest)
        throw new StorageError('checksum', `ova: ${l.algorithm} of ${l.file} is ${got}, the manifest says ${l.digest}`);
      verified.push(l.file);
    }
  }

  const disks: ImportedDisk[] = [];
  for (const disk of pkg.vm.disks) {
    if (!disk.file) continue;
    const e = byName.get(disk.file)!;
    disks.push({ disk, store: new SliceStore(store, e.offset, e.size, `${store.name}/${disk.file}`) });
  }
  return {
    vm: pkg.vm,
    disks,
    descriptorName: ovfEntry.name,
    ovfVersion: pkg.version,
    verified,
    warnings: pkg.warnings,
  };
}

/** Turns a disk into the file that goes into the package. */
export interface DiskEncoder {
  /** File name extension, e.g. 'vmdk'. */
  extension: string;
  /** The ovf:format URI of the result. */
  formatUri: string;
  encode(src: BlockBackend, out: ByteStore): Promise<void>;
}

/** Copies every non-zero run of src into an open image, chunk by chunk, in ascending order. */
async function copyData(src: BlockBackend, dst: BlockBackend): Promise<void> {
  const buf = new Uint8Array(CHUNK);
  let off = 0;
  while (off < src.size) {
    const st = await src.blockStatus(off, src.size - off);
    if (st.length <= 0) throw new StorageError('io', `blockStatus made no progress at ${off}`);
    if (!st.zero) {
      for (let o = off; o < off + st.length; o += CHUNK) {
        const piece = buf.subarray(0, Math.min(CHUNK, off + st.length - o));
        await src.read(o, piece);
        if (piece.some((v) => v !== 0)) await dst.write(o, piece);
      }
    }
    off += st.length;
  }
}

/** streamOptimized VMDK through the registry's VMDK writer, as VMware's OVAs carry their disks. */
export const streamOptimizedVmdk: DiskEncoder = {
  extension: 'vmdk',
  formatUri: STREAM_OPTIMIZED_URI,
  async encode(src, out) {
    const vmdk = findFormat('vmdk');
    if (!vmdk.create) throw new StorageError('unsupported', 'ova: the vmdk format cannot create images');
    await vmdk.create(out, src.size, { options: { subformat: 'streamOptimized', adapter_type: 'lsilogic' } });
    const dst = await vmdk.open(out, {});
    try {
      await copyData(src, dst);
    } finally {
      await dst.close();
    }
  },
};

export interface ExportOptions {
  encoder?: DiskEncoder;
  /** Base name of the package members (default: the VM name, made file-name safe). */
  baseName?: string;
}

/**
 * Writes an OVA into an empty store: the .ovf, the .mf (SHA256 of the .ovf and every disk), then
 * the disks. The manifest's size is known in advance, so its entry is reserved before the disks
 * stream through and filled in afterwards: one pass, no scratch copies.
 */
export async function exportOva(
  vm: Omit<VmDefinition, 'disks'>,
  disks: BlockBackend[],
  out: ByteStore,
  opts: ExportOptions = {},
): Promise<void> {
  const encoder = opts.encoder ?? streamOptimizedVmdk;
  const base = (opts.baseName ?? vm.name).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60) || 'vm';
  const ovfName = `${base}.ovf`;
  const mfName = `${base}.mf`;
  const diskNames = disks.map((_, i) => `${base}-disk${i + 1}.${encoder.extension}`);
  const tar = new TarWriter(out);

  // The descriptor comes first but names each disk file's size, known only once encoded. So the
  // descriptor's slot is sized with the largest possible numbers, the disks are encoded straight
  // into their final places behind it, and the descriptor is padded with trailing whitespace
  // (legal after the root element) to exactly that size. The manifest's size is exact anyway.
  const placeholder: BuildDisk[] = disks.map((d, i) => ({
    href: diskNames[i]!,
    fileSize: Number.MAX_SAFE_INTEGER,
    capacity: d.size,
    formatUri: encoder.formatUri,
  }));
  const fullVm: VmDefinition = { ...vm, disks: [] };
  const maxOvf = utf8Encode(buildOvf(fullVm, placeholder)).length;
  const mfLen = [ovfName, ...diskNames].reduce(
    (n, f) => n + manifestLine({ algorithm: 'SHA256', file: f, digest: '0'.repeat(64) }).length,
    0,
  );

  // Layout: [ovf header][ovf data, padded to maxOvf][mf header][mf][disk headers + data]...
  const ovfSlot = Math.ceil(maxOvf / 512) * 512;
  const mfSlot = Math.ceil(mfLen / 512) * 512;
  let pos = 512 + ovfSlot + 512 + mfSlot;
  const built: BuildDisk[] = [];
  const digests: string[] = [];
  for (let i = 0; i < disks.length; i++) {
    const window = new WindowStore(out, pos + 512, diskNames[i]!);
    await encoder.encode(disks[i]!, window);
    const size = await window.size();
    built.push({ href: diskNames[i]!, fileSize: size, capacity: disks[i]!.size, formatUri: encoder.formatUri });
    digests.push(await hashStore(window, 0, size, 'SHA256'));
    pos += 512 + Math.ceil(size / 512) * 512;
  }

  const ovfBytes = new Uint8Array(maxOvf).fill(0x20);
  ovfBytes.set(utf8Encode(buildOvf(fullVm, built)));
  const ovfHash = makeHash('SHA256');
  ovfHash.update(ovfBytes);
  await tar.add(ovfName, ovfBytes);
  const mf = [ovfName, ...diskNames]
    .map((f, i) => manifestLine({ algorithm: 'SHA256', file: f, digest: i === 0 ? ovfHash.hex() : digests[i - 1]! }))
    .join('');
  await tar.add(mfName, utf8Encode(mf));
  for (let i = 0; i < disks.length; i++) await tar.finishEntry(diskNames[i]!, built[i]!.fileSize);
  await tar.end();
  await out.flush();
}
