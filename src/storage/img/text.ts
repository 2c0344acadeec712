/** Human-readable output in qemu-img's layout, for info, snapshot -l, check and map. */
import type { ImageInfo, ImageSnapshot } from './info.ts';
import { sizeToStr } from './units.ts';

const pad2 = (n: number) => String(n).padStart(2, '0');

/** One row (or the header, without a snapshot) of qemu's snapshot table. */
export function snapshotRow(s?: ImageSnapshot): string {
  if (!s) {
    return (
      'ID'.padEnd(10) +
      'TAG'.padEnd(17) +
      'VM SIZE'.padStart(8) +
      'DATE'.padStart(20) +
      'VM CLOCK'.padStart(13) +
      'ICOUNT'.padStart(11)
    );
  }
  const d = new Date(s.dateSec * 1000);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const ms = Math.floor(s.vmClockNsec / 1e6);
  const clock = `${pad2(Math.floor(ms / 3600000))}:${pad2(Math.floor(ms / 60000) % 60)}:${pad2(Math.floor(ms / 1000) % 60)}.${String(ms % 1000).padStart(3, '0')}`;
  const icount = s.icount !== undefined ? String(s.icount) : '';
  return `${s.id.padEnd(9)} ${s.name.padEnd(16)} ${sizeToStr(s.vmStateSize).padStart(8)}${date.padStart(20)}${clock.padStart(13)}${icount.padStart(11)}`;
}

export function snapshotTable(snaps: ImageSnapshot[]): string[] {
  return ['Snapshot list:', snapshotRow(), ...snaps.map((s) => snapshotRow(s))];
}

/** qemu prints format-specific data as an indented tree, with dashes in keys turned into spaces. */
function dumpValue(lines: string[], key: string, value: unknown, indent: number): void {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    lines.push(`${pad}${key}:`);
    for (const [i, v] of value.entries()) dumpValue(lines, `[${i}]`, v, indent + 4);
  } else if (value !== null && typeof value === 'object') {
    lines.push(`${pad}${key}:`);
    for (const [k, v] of Object.entries(value)) dumpValue(lines, k.replace(/-/g, ' '), v, indent + 4);
  } else {
    lines.push(`${pad}${key}: ${String(value)}`);
  }
}

export function infoText(info: ImageInfo): string {
  const lines = [
    `image: ${info.filename}`,
    `file format: ${info.format}`,
    `virtual size: ${sizeToStr(info.virtualSize)} (${info.virtualSize} bytes)`,
    `disk size: ${info.actualSize !== undefined ? sizeToStr(info.actualSize) : 'unavailable'}`,
  ];
  if (info.clusterSize !== undefined) lines.push(`cluster_size: ${info.clusterSize}`);
  if (info.backingFilename !== undefined) {
    const actual =
      info.fullBackingFilename !== info.backingFilename ? ` (actual path: ${info.fullBackingFilename})` : '';
    lines.push(`backing file: ${info.backingFilename}${actual}`);
    if (info.backingFilenameFormat) lines.push(`backing file format: ${info.backingFilenameFormat}`);
  }
  if (info.dirtyFlag) lines.push('cleanly shut down: no');
  if (info.snapshots?.length) lines.push(...snapshotTable(info.snapshots));
  if (info.formatSpecific) {
    lines.push('Format specific information:');
    for (const [k, v] of Object.entries(info.formatSpecific.data)) dumpValue(lines, k.replace(/-/g, ' '), v, 4);
  }
  return lines.join('\n');
}
