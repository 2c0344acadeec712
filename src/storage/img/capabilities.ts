/**
 * Optional members the img verbs use when a backend has them, beyond the capabilities declared in
 * ../types.ts. Tested by shape, like the guards there, so any format gains a verb by implementing
 * the member.
 */
import type { BlockBackend } from '../types.ts';

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

/** Empties the image's own layer so it reads through to its backing file again (commit). */
export interface EmptiableBackend {
  makeEmpty(): Promise<void>;
}

export function describe(b: BlockBackend): DescribedBackend & { formatSpecific?: DescribedBackend['formatSpecific'] } {
  const d = b as BlockBackend & DescribedBackend & { info?: { blockSize?: unknown } };
  // Formats that do not name a clusterSize may still publish their block size in `info` (VHDX).
  const blockSize = typeof d.info?.blockSize === 'number' ? d.info.blockSize : undefined;
  return {
    clusterSize: typeof d.clusterSize === 'number' ? d.clusterSize : blockSize,
    dirty: typeof d.dirty === 'boolean' ? d.dirty : undefined,
    formatSpecific: typeof d.formatSpecific === 'function' ? () => d.formatSpecific!() : undefined,
  };
}

export function isRebasable(b: BlockBackend): b is BlockBackend & RebasableBackend {
  return typeof (b as Partial<RebasableBackend>).setBackingFile === 'function';
}

export function isEmptiable(b: BlockBackend): b is BlockBackend & EmptiableBackend {
  return typeof (b as Partial<EmptiableBackend>).makeEmpty === 'function';
}
