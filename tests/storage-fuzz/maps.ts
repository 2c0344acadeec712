/**
 * Layout maps of valid seed images, one builder per format, read from the seed's own bytes with
 * the published layouts (qcow2 spec, VMDK sparse extent spec, VHD spec, MS-VHDX, ustar). They
 * only read the valid seed, so they can be simple; the mutations they guide are what is hostile.
 */
import { vhdChecksum } from '../../src/storage/vhd/footer.ts';
import { crc32c } from '../../src/storage/vhdx/crc32c.ts';
import { addFields, addTable, emptyMap, readUint, type StructMap } from './structure.ts';

const MiB = 1 << 20;
/** Per-table cap so a map of a big table stays cheap; mutations pick among these entries. */
const MAX_ENTRIES = 4096;

function u(b: Uint8Array, off: number, size: number, le: boolean): number {
  return Number(readUint(b, off, size, le));
}

function clusterBoundaries(m: StructMap, size: number, step: number, limit = 64): void {
  for (let o = step, n = 0; o < size && n < limit; o += step, n++) m.boundaries.push(o);
  m.boundaries.push(size - 1, size);
}

export function qcow2Map(b: Uint8Array): StructMap {
  const m = emptyMap();
  const version = u(b, 4, 4, false);
  addFields(m, 0, false, [
    ['magic', 0, 4],
    ['version', 4, 4],
    ['backing_file_offset', 8, 8],
    ['backing_file_size', 16, 4],
    ['cluster_bits', 20, 4],
    ['size', 24, 8],
    ['crypt_method', 32, 4],
    ['l1_size', 36, 4],
    ['l1_table_offset', 40, 8],
    ['refcount_table_offset', 48, 8],
    ['refcount_table_clusters', 56, 4],
    ['nb_snapshots', 60, 4],
    ['snapshots_offset', 64, 8],
  ]);
  let headerLength = 72;
  if (version >= 3) {
    addFields(m, 0, false, [
      ['incompatible_features', 72, 8],
      ['compatible_features', 80, 8],
      ['autoclear_features', 88, 8],
      ['refcount_order', 96, 4],
      ['header_length', 100, 4],
    ]);
    headerLength = u(b, 100, 4, false);
    if (headerLength > 104) m.fields.push({ name: 'compression_type', off: 104, size: 1, le: false });
  }
  m.boundaries.push(4, 72, headerLength);
  const cb = u(b, 20, 4, false);
  const cs = 2 ** cb;
  const incompat = version >= 3 ? Number(readUint(b, 72, 8, false) & 0xffn) : 0;
  const extL2 = (incompat & 16) !== 0;
  const refOrder = version >= 3 ? u(b, 96, 4, false) : 4;
  // Header extensions: type, length, data padded to 8.
  for (let off = headerLength, n = 0; off + 8 <= cs && n < 16; n++) {
    const type = u(b, off, 4, false);
    const len = u(b, off + 4, 4, false);
    m.fields.push(
      { name: `ext${n}.type`, off, size: 4, le: false },
      { name: `ext${n}.len`, off: off + 4, size: 4, le: false },
    );
    m.boundaries.push(off, off + 8 + len);
    if (type === 0) break;
    off += 8 + Math.ceil(len / 8) * 8;
  }
  const bfo = u(b, 8, 8, false);
  if (bfo) m.text.push({ off: bfo, len: u(b, 16, 4, false) });

  const ptr = (mask: bigint) => (off: number, orig: bigint) => (orig & ~mask) | (BigInt(off) & mask);
  const OFF_MASK = 0x00fffffffffffe00n;
  const l1Off = u(b, 40, 8, false);
  const l1Size = u(b, 36, 4, false);
  const l2Entries = extL2 ? cs / 16 : cs / 8;
  const addL1 = (name: string, off: number, count: number) => {
    addTable(m, { name, off, count, entry: 8, le: false, encode: ptr(OFF_MASK) }, b.length);
    for (let i = 0; i < Math.min(count, MAX_ENTRIES); i++) {
      const l2 = Number(readUint(b, off + i * 8, 8, false) & OFF_MASK);
      if (l2 && l2 + cs <= b.length) {
        addTable(
          m,
          {
            name: `${name}[${i}].L2`,
            off: l2,
            count: l2Entries * (extL2 ? 2 : 1),
            entry: 8,
            le: false,
            encode: ptr(OFF_MASK),
          },
          b.length,
        );
      }
    }
  };
  addL1('L1', l1Off, l1Size);

  const rtOff = u(b, 48, 8, false);
  const rtCount = (u(b, 56, 4, false) * cs) / 8;
  addTable(
    m,
    { name: 'reftable', off: rtOff, count: rtCount, entry: 8, le: false, encode: ptr(~0x1ffn & (2n ** 64n - 1n)) },
    b.length,
  );
  const refBytes = Math.max(1, 2 ** refOrder / 8) as 1 | 2 | 4 | 8;
  for (let i = 0; i < Math.min(rtCount, MAX_ENTRIES); i++) {
    const rb = u(b, rtOff + i * 8, 8, false);
    if (rb && rb + cs <= b.length)
      addTable(m, { name: `refblock${i}`, off: rb, count: cs / refBytes, entry: refBytes, le: false }, b.length);
  }

  // Snapshot table entries: l1 offset/size, id and name lengths, extra data.
  let so = u(b, 64, 8, false);
  const ns = u(b, 60, 4, false);
  for (let i = 0; i < Math.min(ns, 16) && so + 40 <= b.length; i++) {
    addFields(m, so, false, [
      [`snap${i}.l1_table_offset`, 0, 8],
      [`snap${i}.l1_size`, 8, 4],
      [`snap${i}.id_str_size`, 12, 2],
      [`snap${i}.name_size`, 14, 2],
      [`snap${i}.vm_state_size`, 32, 4],
      [`snap${i}.extra_data_size`, 36, 4],
    ]);
    const extra = u(b, so + 36, 4, false);
    if (extra >= 16)
      addFields(m, so + 40, false, [
        [`snap${i}.vm_state_size_large`, 0, 8],
        [`snap${i}.disk_size`, 8, 8],
      ]);
    addL1(`snap${i}.L1`, u(b, so, 8, false), u(b, so + 8, 4, false));
    const len = 40 + extra + u(b, so + 12, 2, false) + u(b, so + 14, 2, false);
    m.boundaries.push(so, so + len);
    so += Math.ceil(len / 8) * 8;
  }
  clusterBoundaries(m, b.length, cs);
  return m;
}

function vmdkHeaderFields(m: StructMap, base: number): void {
  addFields(m, base, true, [
    ['magic', 0, 4],
    ['version', 4, 4],
    ['flags', 8, 4],
    ['capacity', 12, 8],
    ['grainSize', 20, 8],
    ['descriptorOffset', 28, 8],
    ['descriptorSize', 36, 8],
    ['numGTEsPerGT', 44, 4],
    ['rgdOffset', 48, 8],
    ['gdOffset', 56, 8],
    ['overHead', 64, 8],
    ['uncleanShutdown', 72, 1],
    ['singleEndLineChar', 73, 1],
    ['compressAlgorithm', 77, 2],
  ]);
}

/** A hosted sparse extent (monolithicSparse or streamOptimized). */
export function vmdkSparseMap(b: Uint8Array): StructMap {
  const m = emptyMap();
  vmdkHeaderFields(m, 0);
  m.boundaries.push(512);
  const sectorPtr = (off: number) => BigInt(Math.floor(off / 512));
  let hdr = 0;
  let gdSector = u(b, 56, 8, true);
  if (gdSector === 2 ** 64 - 1 || readUint(b, 56, 8, true) === 0xffffffffffffffffn) {
    // GD_AT_END: the footer (a header copy) sits 1024 bytes before the end.
    hdr = b.length - 1024;
    vmdkHeaderFields(m, hdr);
    gdSector = u(b, hdr + 56, 8, true);
    m.boundaries.push(hdr - 512, hdr, hdr + 512);
  }
  const capacity = u(b, hdr + 12, 8, true);
  const grain = u(b, hdr + 20, 8, true);
  const gtes = u(b, hdr + 44, 4, true);
  const gdEntries = Math.ceil(capacity / grain / gtes);
  const flags = u(b, hdr + 8, 4, true);
  const dirs: [string, number][] = [['GD', gdSector]];
  if (flags & 2) dirs.push(['RGD', u(b, hdr + 48, 8, true)]);
  for (const [name, sector] of dirs) {
    if (!sector) continue;
    addTable(
      m,
      { name, off: sector * 512, count: gdEntries, entry: 4, le: true, encode: (o) => sectorPtr(o) },
      b.length,
    );
    for (let i = 0; i < Math.min(gdEntries, MAX_ENTRIES); i++) {
      const gt = u(b, sector * 512 + i * 4, 4, true);
      if (gt)
        addTable(
          m,
          { name: `${name}[${i}].GT`, off: gt * 512, count: gtes, entry: 4, le: true, encode: (o) => sectorPtr(o) },
          b.length,
        );
    }
  }
  const descOff = u(b, 28, 8, true) * 512;
  const descLen = u(b, 36, 8, true) * 512;
  if (descOff && descLen) {
    let len = 0;
    while (len < descLen && b[descOff + len]) len++;
    m.text.push({ off: descOff, len });
    m.boundaries.push(descOff, descOff + len);
  }
  // Stream markers: grain markers (LBA, size, data) and metadata markers (sectors, type).
  if (flags & 0x20000) {
    let off = u(b, 64, 8, true) * 512;
    for (let n = 0; n < 256 && off + 16 <= b.length; n++) {
      const size = u(b, off + 8, 4, true);
      m.boundaries.push(off, off + 12);
      if (size) {
        addFields(m, off, true, [
          [`marker${n}.lba`, 0, 8],
          [`marker${n}.size`, 8, 4],
        ]);
        off += Math.ceil((12 + size) / 512) * 512;
      } else {
        addFields(m, off, true, [
          [`marker${n}.sectors`, 0, 8],
          [`marker${n}.type`, 12, 4],
        ]);
        const type = u(b, off + 12, 4, true);
        if (type === 0) break;
        off += 512 + u(b, off, 8, true) * 512;
      }
    }
  }
  clusterBoundaries(m, b.length, 64 * 1024);
  return m;
}

export function vhdMap(b: Uint8Array): StructMap {
  const m = emptyMap();
  const footer = (base: number, tag: string) =>
    addFields(m, base, false, [
      [`${tag}.features`, 8, 4],
      [`${tag}.version`, 12, 4],
      [`${tag}.data_offset`, 16, 8],
      [`${tag}.creator_app`, 28, 4],
      [`${tag}.original_size`, 40, 8],
      [`${tag}.current_size`, 48, 8],
      [`${tag}.cylinders`, 56, 2],
      [`${tag}.heads`, 58, 1],
      [`${tag}.sectors`, 59, 1],
      [`${tag}.disk_type`, 60, 4],
      [`${tag}.checksum`, 64, 4],
    ]);
  const end = b.length - 512;
  footer(end, 'footer');
  m.boundaries.push(end, end + 8);
  const dynamic = b[0] === 0x63; // 'c' of conectix: a copy at offset 0
  let dynOff = -1;
  if (dynamic) {
    footer(0, 'footer0');
    dynOff = u(b, 16, 8, false);
  }
  if (dynOff > 0 && dynOff + 1024 <= b.length) {
    addFields(m, dynOff, false, [
      ['dyn.data_offset', 8, 8],
      ['dyn.table_offset', 16, 8],
      ['dyn.version', 24, 4],
      ['dyn.max_table_entries', 28, 4],
      ['dyn.block_size', 32, 4],
      ['dyn.checksum', 36, 4],
    ]);
    for (let i = 0; i < 8; i++) {
      const lo = dynOff + 576 + i * 24;
      if (!u(b, lo, 4, false)) continue;
      addFields(m, lo, false, [
        [`locator${i}.code`, 0, 4],
        [`locator${i}.space`, 4, 4],
        [`locator${i}.length`, 8, 4],
        [`locator${i}.offset`, 16, 8],
      ]);
      m.text.push({ off: u(b, lo + 16, 8, false), len: u(b, lo + 8, 4, false) });
    }
    m.boundaries.push(dynOff, dynOff + 1024);
    const bat = u(b, dynOff + 16, 8, false);
    const entries = u(b, dynOff + 28, 4, false);
    addTable(
      m,
      { name: 'BAT', off: bat, count: entries, entry: 4, le: false, encode: (o) => BigInt(Math.floor(o / 512)) },
      b.length,
    );
    const blockSize = u(b, dynOff + 32, 4, false);
    for (let i = 0; i < Math.min(entries, MAX_ENTRIES); i++) {
      const s = u(b, bat + i * 4, 4, false);
      if (s !== 0xffffffff) m.boundaries.push(s * 512, s * 512 + 512, s * 512 + 512 + blockSize);
    }
  }
  m.fix = (x) => {
    const fixAt = (base: number, csum: number, len: number) => {
      if (base < 0 || base + len > x.length) return;
      const part = x.subarray(base, base + len);
      new DataView(part.buffer, part.byteOffset, len).setUint32(csum, vhdChecksum(part, csum));
    };
    fixAt(x.length - 512, 64, 512);
    if (dynamic) {
      fixAt(0, 64, 512);
      const d = u(x, 16, 8, false);
      if (d > 0 && d + 1024 <= x.length) fixAt(d, 36, 1024);
    }
  };
  return m;
}

export function vhdxMap(b: Uint8Array): StructMap {
  const m = emptyMap();
  for (const [i, base] of [64 * 1024, 128 * 1024].entries()) {
    addFields(m, base, true, [
      [`header${i}.signature`, 0, 4],
      [`header${i}.checksum`, 4, 4],
      [`header${i}.sequence`, 8, 8],
      [`header${i}.log_guid`, 48, 8],
      [`header${i}.log_version`, 64, 2],
      [`header${i}.version`, 66, 2],
      [`header${i}.log_length`, 68, 4],
      [`header${i}.log_offset`, 72, 8],
    ]);
    m.boundaries.push(base, base + 4096);
  }
  let bat = { off: 0, len: 0 };
  let meta = { off: 0, len: 0 };
  for (const [i, base] of [192 * 1024, 256 * 1024].entries()) {
    const count = u(b, base + 8, 4, true);
    m.fields.push({ name: `region${i}.count`, off: base + 8, size: 4, le: true });
    for (let e = 0; e < Math.min(count, 16); e++) {
      const eo = base + 16 + e * 32;
      addFields(m, eo, true, [
        [`region${i}[${e}].guid`, 0, 4],
        [`region${i}[${e}].offset`, 16, 8],
        [`region${i}[${e}].length`, 24, 4],
        [`region${i}[${e}].required`, 28, 4],
      ]);
      const r = { off: u(b, eo + 16, 8, true), len: u(b, eo + 24, 4, true) };
      // BAT GUID 2DC27766-..., metadata GUID 8B7CA206-... (first bytes, little-endian Data1).
      if (u(b, eo, 4, true) === 0x2dc27766) bat = r;
      if (u(b, eo, 4, true) === 0x8b7ca206) meta = r;
    }
    m.boundaries.push(base, base + 64 * 1024);
  }
  const logOff = u(b, 64 * 1024 + 72, 8, true);
  const logLen = u(b, 64 * 1024 + 68, 4, true);
  m.boundaries.push(logOff, logOff + logLen);
  if (meta.off) {
    const n = u(b, meta.off + 10, 2, true);
    m.fields.push({ name: 'metadata.count', off: meta.off + 10, size: 2, le: true });
    m.boundaries.push(meta.off, meta.off + 65536, meta.off + meta.len);
    for (let e = 0; e < Math.min(n, 32); e++) {
      const eo = meta.off + 32 + e * 32;
      addFields(m, eo, true, [
        [`item${e}.id`, 0, 4],
        [`item${e}.offset`, 16, 4],
        [`item${e}.length`, 20, 4],
        [`item${e}.flags`, 24, 4],
      ]);
      const vo = meta.off + u(b, eo + 16, 4, true);
      const vl = u(b, eo + 20, 4, true);
      if (vl >= 4) m.fields.push({ name: `item${e}.value`, off: vo, size: vl >= 8 ? 8 : 4, le: true });
      if (vl >= 8) m.fields.push({ name: `item${e}.value_hi`, off: vo + 4, size: 4, le: true });
      if (vl > 64) m.text.push({ off: vo, len: vl });
      m.boundaries.push(vo, vo + vl);
    }
  }
  if (bat.off) {
    const encode = (o: number, orig: bigint) => (BigInt(Math.floor(o / MiB)) << 20n) | (orig & 7n);
    addTable(m, { name: 'BAT', off: bat.off, count: bat.len / 8, entry: 8, le: true, encode }, b.length);
    for (let i = 0; i < Math.min(bat.len / 8, MAX_ENTRIES); i++) {
      const e = readUint(b, bat.off + i * 8, 8, true);
      const off = Number(e >> 20n) * MiB;
      if (off) m.boundaries.push(off, off + MiB);
    }
  }
  // Pending log entries ('loge' every 4 KiB of the log): header fields and descriptors.
  const logEntries: number[] = [];
  for (let at = logOff; logLen && at + 4096 <= Math.min(b.length, logOff + logLen); at += 4096) {
    if (u(b, at, 4, true) !== 0x65676f6c) continue;
    logEntries.push(at);
    addFields(m, at, true, [
      [`log@${at}.length`, 8, 4],
      [`log@${at}.tail`, 12, 4],
      [`log@${at}.sequence`, 16, 8],
      [`log@${at}.descriptors`, 24, 4],
      [`log@${at}.guid`, 32, 8],
      [`log@${at}.flushed_offset`, 48, 8],
      [`log@${at}.last_offset`, 56, 8],
    ]);
    for (let d = 0; d < Math.min(u(b, at + 24, 4, true), 16); d++) {
      addFields(m, at + 64 + d * 32, true, [
        [`log@${at}.desc${d}.signature`, 0, 4],
        [`log@${at}.desc${d}.trailing`, 4, 4],
        [`log@${at}.desc${d}.leading`, 8, 8],
        [`log@${at}.desc${d}.file_offset`, 16, 8],
        [`log@${at}.desc${d}.sequence`, 24, 8],
      ]);
    }
    m.boundaries.push(at, at + u(b, at + 8, 4, true));
  }
  clusterBoundaries(m, b.length, MiB);
  m.fix = (x) => {
    const dv = new DataView(x.buffer, x.byteOffset, x.byteLength);
    for (const at of logEntries) {
      if (at + 64 > x.length) continue;
      const len = Math.min(dv.getUint32(at + 8, true), x.length - at);
      if (len >= 64 && len % 4096 === 0) dv.setUint32(at + 4, crc32c(x.subarray(at, at + len), 4), true);
    }
    for (const base of [64 * 1024, 128 * 1024])
      if (base + 4096 <= x.length) dv.setUint32(base + 4, crc32c(x.subarray(base, base + 4096), 4), true);
    for (const base of [192 * 1024, 256 * 1024])
      if (base + 65536 <= x.length) dv.setUint32(base + 4, crc32c(x.subarray(base, base + 65536), 4), true);
  };
  return m;
}

/** Raw data has no structure: only truncation points and random bytes. */
export function rawMap(b: Uint8Array): StructMap {
  const m = emptyMap();
  clusterBoundaries(m, b.length, 4096);
  m.boundaries.push(0, 511, 512, 513);
  return m;
}

/** A text file (VMDK descriptor): token-level edits. */
export function textMap(b: Uint8Array): StructMap {
  const m = emptyMap();
  m.text.push({ off: 0, len: b.length });
  m.boundaries.push(0, Math.floor(b.length / 2), b.length - 1);
  return m;
}

/** A ustar archive: header size fields (octal ASCII) and checksums, recomputed by fix. */
export function tarMap(b: Uint8Array): StructMap {
  const m = emptyMap();
  const headers: number[] = [];
  for (let off = 0; off + 512 <= b.length && headers.length < 64;) {
    if (b[off] === 0) break;
    headers.push(off);
    m.fields.push(
      { name: `tar@${off}.size`, off: off + 124, size: 8, le: false, octal: true },
      { name: `tar@${off}.size12`, off: off + 124, size: 4, le: false, octal: true },
      { name: `tar@${off}.typeflag`, off: off + 156, size: 1, le: false },
      { name: `tar@${off}.sizebyte0`, off: off + 124, size: 1, le: false },
    );
    m.text.push({ off, len: 100 });
    let size = 0;
    for (let i = 0; i < 11; i++) size = size * 8 + ((b[off + 124 + i] ?? 48) - 48);
    m.boundaries.push(off, off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  m.fix = (x) => {
    for (const off of headers) {
      if (off + 512 > x.length) continue;
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : x[off + i]!;
      const s = sum.toString(8).padStart(6, '0');
      for (let i = 0; i < 6; i++) x[off + 148 + i] = s.charCodeAt(i);
      x[off + 154] = 0;
      x[off + 155] = 0x20;
    }
  };
  return m;
}
