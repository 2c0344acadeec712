/**
 * Reading OVF descriptors (DMTF DSP0243 1.x and 2.x) as VMware ovftool and VirtualBox write
 * them into a VmDefinition: References, DiskSection, NetworkSection, and the first VirtualSystem
 * with its VirtualHardwareSection (CPU 3, memory 4, IDE/SCSI/SATA controllers 5/6/20, disk
 * drives 17, Ethernet 10) and OperatingSystemSection.
 *
 * Lenient where ovftool is: what a descriptor leaves out gets a default and a warning in
 * `OvfPackage.warnings` (for the caller to show; nothing is printed here): no CPU item (1 CPU),
 * no memory item (512 MiB), no VirtualHardwareSection, disks no drive item attaches (attached in
 * DiskSection order), a disk without a capacity (0: the image file says). Unknown elements and
 * sections are skipped unless marked ovf:required="true"; prefixes do not matter, namespaces do,
 * except that ovf: attributes written without a prefix are accepted too. Refused (StorageError):
 * malformed XML, a reference to a disk or file that is not there, a file reference that could
 * leave the package, a VM with no disk at all.
 */
import { StorageError } from '../types.ts';
import { toBytes } from './units.ts';
import type { VmDefinition, VmDisk, VmNic } from './vm.ts';
import { attrOf, childOf, parseXml } from './xml.ts';
import type { XmlElement } from './xml.ts';

export const OVF1_NS = 'http://schemas.dmtf.org/ovf/envelope/1';
export const OVF2_NS = 'http://schemas.dmtf.org/ovf/envelope/2';
export const VMW_NS = 'http://www.vmware.com/schema/ovf';
export const VBOX_NS = 'http://www.virtualbox.org/ovf/machine';
export const STREAM_OPTIMIZED_URI = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';

export interface OvfFile {
  id: string;
  href: string;
  size?: number;
}

export interface OvfPackage {
  version: 1 | 2;
  files: OvfFile[];
  vm: VmDefinition;
  /** What was missing or odd and what was assumed instead, one sentence each, for the user. */
  warnings: string[];
}

/** A VM with no CPU item gets one CPU, as ovftool and VirtualBox assume. */
export const DEFAULT_CPUS = 1;
/**
 * A VM with no memory item gets 512 MiB: what VirtualBox proposes for a generic 64-bit Linux
 * guest and enough for a Debian userland; a smaller default would make imports fail to boot.
 */
export const DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024;

function corrupt(msg: string): never {
  throw new StorageError('corrupt', `ovf: ${msg}`);
}

/** Every descendant (depth-first) with this local name, whatever its namespace. */
function findAll(el: XmlElement, local: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (c.local === local) out.push(c);
    findAll(c, local, out);
  }
  return out;
}

/** The text of a hardware item's field (rasd:, sasd:, epasd: ... alike). */
function field(item: XmlElement, local: string): string | undefined {
  const c = item.children.find((x) => x.local === local);
  return c?.text.trim();
}

function int(text: string | undefined, what: string): number {
  if (text === undefined || !/^\d+$/.test(text.trim())) corrupt(`${what} '${text}' is not a whole number`);
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) corrupt(`${what} ${text} is too large`);
  return n;
}

export function formatFromUri(uri: string | undefined, href: string | undefined): string {
  const u = (uri ?? '').toLowerCase();
  if (u.includes('vmdk')) return 'vmdk';
  if (u.includes('vhdx')) return 'vhdx';
  if (u.includes('vhd')) return 'vpc';
  if (u.includes('qcow')) return 'qcow2';
  if (u.includes('raw')) return 'raw';
  const ext = /\.([a-z0-9]+)$/i.exec(href ?? '')?.[1]?.toLowerCase();
  return ext === 'vhd' ? 'vpc' : ext === 'img' || ext === 'iso' || !ext ? 'raw' : ext;
}

/**
 * A package member name from an ovf:href: relative, '/'-separated, no '.', '..' or empty
 * segments, no scheme or drive (':'), no backslash. Anything else could name a file outside
 * the package (or a URL), so it is refused rather than looked up.
 */
function checkHref(href: string): void {
  const segs = href.split('/');
  if (!href || href.includes('\\') || href.includes(':') || segs.some((x) => x === '' || x === '.' || x === '..'))
    corrupt(`file reference '${href}' is not a relative path inside the package`);
}

export function parseOvf(text: string): OvfPackage {
  const env = parseXml(text);
  if (env.local !== 'Envelope' || (env.ns !== OVF1_NS && env.ns !== OVF2_NS)) {
    corrupt(`root element is {${env.ns}}${env.name}, not an OVF 1.x or 2.x Envelope`);
  }
  const ns = env.ns;
  const version = ns === OVF1_NS ? 1 : 2;
  const warnings: string[] = [];
  // ovf:href and friends are namespaced; some hand-edited descriptors drop the prefix.
  const a = (el: XmlElement, local: string) => attrOf(el, ns, local) ?? attrOf(el, '', local);

  for (const sec of env.children) {
    if (
      a(sec, 'required') === 'true' &&
      !['References', 'DiskSection', 'NetworkSection', 'VirtualSystem', 'VirtualSystemCollection'].includes(sec.local)
    ) {
      throw new StorageError('unsupported', `ovf: required section ${sec.name} is not understood`);
    }
  }

  const files: OvfFile[] = [];
  const refs = childOf(env, ns, 'References');
  for (const f of refs ? refs.children.filter((c) => c.local === 'File') : []) {
    const id = a(f, 'id');
    const href = a(f, 'href');
    if (!id || !href) corrupt('References/File without ovf:id or ovf:href');
    if (a(f, 'chunkSize')) throw new StorageError('unsupported', `ovf: file ${href} is chunked`);
    if (a(f, 'compression') && a(f, 'compression') !== 'identity')
      throw new StorageError('unsupported', `ovf: file ${href} uses ${a(f, 'compression')} compression`);
    checkHref(href);
    const sizeText = a(f, 'size');
    files.push({ id, href, size: sizeText === undefined ? undefined : int(sizeText, `size of ${href}`) });
  }

  const disksById = new Map<string, VmDisk>();
  for (const d of findAll(env, 'Disk').filter((x) => x.ns === ns)) {
    const diskId = a(d, 'diskId');
    const cap = a(d, 'capacity');
    if (!diskId) corrupt('Disk without ovf:diskId');
    if (cap === undefined) warnings.push(`disk ${diskId} has no capacity; its size is taken from the image file`);
    else if (cap.includes('${'))
      throw new StorageError('unsupported', `ovf: disk ${diskId} capacity '${cap}' refers to a property`);
    const fileRef = a(d, 'fileRef');
    const file = fileRef === undefined ? undefined : files.find((f) => f.id === fileRef);
    if (fileRef !== undefined && !file) corrupt(`disk ${diskId} refers to unknown file '${fileRef}'`);
    const formatUri = a(d, 'format');
    disksById.set(diskId, {
      diskId,
      file: file?.href,
      capacity:
        cap === undefined ? 0 : toBytes(cap, a(d, 'capacityAllocationUnits'), 'byte', `capacity of disk ${diskId}`),
      format: formatFromUri(formatUri, file?.href),
      formatUri,
    });
  }

  const vs = findAll(env, 'VirtualSystem').find((x) => x.ns === ns);
  if (!vs) corrupt('no VirtualSystem');
  const hw = childOf(vs, ns, 'VirtualHardwareSection');
  if (!hw) warnings.push(`VirtualSystem ${a(vs, 'id') ?? ''} has no VirtualHardwareSection`);
  const items = (hw?.children ?? []).filter(
    (c) => c.local === 'Item' || c.local === 'StorageItem' || c.local === 'EthernetPortItem',
  );
  const byInstance = new Map<string, XmlElement>();
  for (const it of items) {
    const id = field(it, 'InstanceID');
    if (id !== undefined) byInstance.set(id, it);
  }

  let cpus = 0;
  let memoryBytes = 0;
  const disks: VmDisk[] = [];
  const nics: VmNic[] = [];
  const used = new Set<string>();
  for (const it of items) {
    const type = field(it, 'ResourceType');
    switch (type) {
      case '3': {
        const q = field(it, 'VirtualQuantity');
        if (q !== undefined && q !== '') cpus = int(q, 'CPU VirtualQuantity');
        break;
      }
      case '4': {
        const q = field(it, 'VirtualQuantity');
        if (q !== undefined && q !== '')
          memoryBytes = toBytes(q, field(it, 'AllocationUnits'), 'byte * 2^20', 'memory VirtualQuantity');
        break;
      }
      case '17': {
        const host = field(it, 'HostResource');
        if (!host) break; // an empty drive
        const m = /^(?:ovf:)?\/\/?disk\/(.+)$/.exec(host);
        if (!m) {
          // A drive backed directly by a file (ovf:/file/<id>) has no Disk element: size unknown here.
          const f = /^(?:ovf:)?\/\/?file\/(.+)$/.exec(host);
          if (!f) corrupt(`disk drive HostResource '${host}' names neither a disk nor a file`);
          const file = files.find((x) => x.id === f[1]);
          if (!file) corrupt(`disk drive refers to unknown file '${f[1]}'`);
          disks.push({ file: file.href, capacity: 0, format: formatFromUri(undefined, file.href) });
          break;
        }
        const disk = disksById.get(m[1]!);
        if (!disk) corrupt(`disk drive refers to unknown disk '${m[1]}'`);
        if (used.has(m[1]!)) corrupt(`disk '${m[1]}' is attached twice`);
        used.add(m[1]!);
        const parent = field(it, 'Parent');
        const ctl = parent !== undefined ? byInstance.get(parent) : undefined;
        const ctlType = ctl ? field(ctl, 'ResourceType') : undefined;
        const kind = ctlType === '5' ? 'ide' : ctlType === '6' ? 'scsi' : ctlType === '20' ? 'sata' : 'other';
        const unit = field(it, 'AddressOnParent');
        disks.push({
          ...disk,
          controller: ctl ? { kind, subtype: field(ctl, 'ResourceSubType') } : undefined,
          unit: unit === undefined ? undefined : int(unit, 'AddressOnParent'),
        });
        break;
      }
      case '10':
        nics.push({
          network: field(it, 'Connection') ?? '',
          model: field(it, 'ResourceSubType'),
          mac: field(it, 'Address'),
        });
        break;
      default:
        break;
    }
  }
  if (cpus <= 0) {
    cpus = DEFAULT_CPUS;
    warnings.push(`no CPU item (ResourceType 3) with a positive VirtualQuantity; assuming ${DEFAULT_CPUS} CPU`);
  }
  if (memoryBytes <= 0) {
    memoryBytes = DEFAULT_MEMORY_BYTES;
    warnings.push(
      `no memory item (ResourceType 4) with a positive VirtualQuantity; assuming ${DEFAULT_MEMORY_BYTES / 2 ** 20} MiB`,
    );
  }
  // ovftool attaches what DiskSection lists even when no drive item names it.
  for (const [id, disk] of disksById) {
    if (used.has(id)) continue;
    warnings.push(`disk ${id} is attached by no disk drive item; attaching it after the others`);
    disks.push(disk);
  }
  if (disks.length === 0) corrupt('no disk: no drive item attaches one and DiskSection lists none');

  const name =
    childOf(vs, ns, 'Name')?.text.trim() ||
    (hw && findAll(hw, 'VirtualSystemIdentifier')[0]?.text.trim()) ||
    a(vs, 'id') ||
    'vm';
  const osSec = childOf(vs, ns, 'OperatingSystemSection');
  let os: VmDefinition['os'];
  if (osSec) {
    const id = a(osSec, 'id');
    os = {
      id: id !== undefined && /^\d+$/.test(id) ? Number(id) : undefined,
      description: childOf(osSec, ns, 'Description')?.text.trim(),
      type: attrOf(osSec, VMW_NS, 'osType') ?? childOf(osSec, VBOX_NS, 'OSType')?.text.trim(),
    };
  }
  return { version, files, vm: { name, cpus, memoryBytes, disks, nics, os }, warnings };
}
