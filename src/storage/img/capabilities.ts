/**
 * Optional members the img verbs use when a backend has them, beyond the capabilities declared in
 * ../types.ts. Tested by shape, like the guards there, so any format gains a verb by implementing
 * the member.
 */
import type { BlockBackend } from '../types.ts';
import { qcow2BackingWriter } from './qcow2-backing.ts';

/** One file of a multi-file image (a VMDK extent), as VmdkImage.extentInfo() lists them. */
export interface ExtentFileInfo {
  virtualSize: number;
  /** As the image names it (relative to the image's path); undefined: the image's own file. */
  filename?: string;
  clusterSize?: number;
  /** The descriptor's extent type (SPARSE, FLAT, ...), '' without a descriptor file. */
  format: string;
  compressed: boolean;
}

/** What `qemu-img info` shows beyond the virtual size. */
export interface DescribedBackend {
  /** The allocation unit (qcow2/VMDK clusters, VHD/VHDX blocks). */
  readonly clusterSize?: number;
  /** The image was not closed cleanly (qcow2 dirty bit, VHDX log). */
  readonly dirty?: boolean;
  /** The `format-specific` object of qemu-img info, e.g. { type: 'qcow2', data: { compat: '1.1', ... } }. */
  formatSpecific?(): { type: string; data: Record<string, unknown> } | undefined;
}

/** An image whose backing-file reference can be rewritten (rebase, commit). */
export interface RebasableBackend {
  setBackingFile(name: string | undefined, format: string | undefined): Promise<void>;
}

/**
 * An image whose own data runs (block status depth 0) report `hostOffset`s in the very file it
 * was opened on, read straight from it: a hole of that file inside an allocated block reads as
 * zeros (VHD and VHDX allocate whole blocks of 2-32 MiB and leave their unwritten parts as
 * holes). convert uses it to skip those holes, as it does a raw file's.
 */
export interface FileMappedBackend {
  readonly dataInFile: boolean;
}

export function isFileMapped(b: BlockBackend): boolean {
  return (b as Partial<FileMappedBackend>).dataInFile === true;
}

/**
 * An image whose guest data is the first `size` bytes of its file, 1:1 (raw; a fixed VHD, whose
 * footer follows the data). Its block status is the file's hole map, as qemu-img map shows it.
 */
export interface FilePrefixBackend {
  readonly dataIsFilePrefix: boolean;
}

export function isFilePrefix(b: BlockBackend): boolean {
  return b.format === 'raw' || (b as Partial<FilePrefixBackend>).dataIsFilePrefix === true;
}

/** Empties the image's own layer so it reads through to its backing file again (commit). */
export interface EmptiableBackend {
  makeEmpty(): Promise<void>;
}

/** The public header fields of a qcow2 image (src/storage/qcow2/header.ts) that info reports. */
interface Qcow2HeaderView {
  version: number;
  refcountOrder: number;
  compressionType: number;
  incompatible: bigint;
  compatible: bigint;
  otherExtensions?: { type: number; data: Uint8Array }[];
}

export function qcow2Header(b: BlockBackend): Qcow2HeaderView | undefined {
  const h = (b as { header?: Partial<Qcow2HeaderView> }).header;
  if (b.format !== 'qcow2' || !h || typeof h.version !== 'number' || typeof h.incompatible !== 'bigint')
    return undefined;
  return h as Qcow2HeaderView;
}

/** qcow2's format-specific block as qemu-img prints it, derived from the header's feature bits. */
function qcow2Specific(h: Qcow2HeaderView): { type: string; data: Record<string, unknown> } {
  const data: Record<string, unknown> = {
    compat: h.version >= 3 ? '1.1' : '0.10',
    'compression-type': h.compressionType === 1 ? 'zstd' : 'zlib',
  };
  if (h.version >= 3) {
    data['lazy-refcounts'] = (h.compatible & 1n) !== 0n;
  }
  data['refcount-bits'] = 2 ** h.refcountOrder;
  if (h.version >= 3) {
    data['corrupt'] = (h.incompatible & 2n) !== 0n;
    data['extended-l2'] = (h.incompatible & 16n) !== 0n;
  }
  return { type: 'qcow2', data };
}

/** VMDK's format-specific block from its public descriptor (the extent list needs grain sizes VMDK does not publish). */
function vmdkSpecific(b: BlockBackend): { type: string; data: Record<string, unknown> } | undefined {
  const d = (b as { descriptor?: { cid?: unknown; parentCid?: unknown; createType?: unknown } }).descriptor;
  if (b.format !== 'vmdk' || !d || typeof d.cid !== 'number' || typeof d.parentCid !== 'number') return undefined;
  const data: Record<string, unknown> = { cid: d.cid, 'parent-cid': d.parentCid, 'create-type': String(d.createType) };
  return { type: 'vmdk', data };
}

/** A VMDK's extents, with the files that hold them (VmdkImage.extentInfo), if b has them. */
export function vmdkExtents(b: BlockBackend): ExtentFileInfo[] | undefined {
  const f = (b as { extentInfo?: unknown }).extentInfo;
  return b.format === 'vmdk' && typeof f === 'function' ? (f.call(b) as ExtentFileInfo[]) : undefined;
}

export function describe(b: BlockBackend): DescribedBackend & { formatSpecific?: DescribedBackend['formatSpecific'] } {
  const d = b as BlockBackend & DescribedBackend & { info?: { blockSize?: unknown } };
  // Formats that do not name a clusterSize may still publish their block size in `info` (VHDX).
  const blockSize = typeof d.info?.blockSize === 'number' ? d.info.blockSize : undefined;
  const q = qcow2Header(b);
  return {
    clusterSize: typeof d.clusterSize === 'number' ? d.clusterSize : blockSize,
    dirty: typeof d.dirty === 'boolean' ? d.dirty : q ? (q.incompatible & 1n) !== 0n : undefined,
    formatSpecific:
      typeof d.formatSpecific === 'function'
        ? () => d.formatSpecific!()
        : q
          ? () => qcow2Specific(q)
          : () => vmdkSpecific(b),
  };
}

/** How to rewrite b's backing reference: its own setBackingFile, or a known adapter, or none. */
export function backingWriter(b: BlockBackend): RebasableBackend['setBackingFile'] | undefined {
  const r = b as Partial<RebasableBackend>;
  if (typeof r.setBackingFile === 'function') return (name, format) => r.setBackingFile!(name, format);
  return qcow2BackingWriter(b);
}

export function isEmptiable(b: BlockBackend): b is BlockBackend & EmptiableBackend {
  return typeof (b as Partial<EmptiableBackend>).makeEmpty === 'function';
}
