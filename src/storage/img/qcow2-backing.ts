/**
 * Rewrites a qcow2 image's backing-file reference, for rebase, until the qcow2 backend offers
 * setBackingFile itself (capabilities.ts prefers the backend's own method). Uses the qcow2
 * module's public header serialiser, so the header layout stays defined in one place.
 */
import { serializeHeader } from '../qcow2/header.ts';
import { Qcow2Image } from '../qcow2/image.ts';
import type { BlockBackend } from '../types.ts';

export function qcow2BackingWriter(
  b: BlockBackend,
): ((name: string | undefined, format: string | undefined) => Promise<void>) | undefined {
  if (!(b instanceof Qcow2Image)) return undefined;
  return async (name, format) => {
    // Everything else in the header must be current on disk before the header cluster is rewritten.
    await b.flush();
    b.header.backingFile = name;
    b.header.backingFormat = name !== undefined ? format : undefined;
    await b.writeHeaderBytes(0, serializeHeader(b.header));
    await b.flush();
  };
}
