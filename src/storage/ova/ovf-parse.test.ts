import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageError } from '../types.ts';
import { vmwareOvf } from './fixtures.test-util.ts';
import { DEFAULT_CPUS, DEFAULT_MEMORY_BYTES, parseOvf } from './ovf-parse.ts';

const MiB = 1 << 20;
const OVF = 'http://schemas.dmtf.org/ovf/envelope/1';
const RASD = 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData';
const DISK = `<References><File ovf:href="d.vmdk" ovf:id="f1"/></References>
  <DiskSection><Info>disks</Info><Disk ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="d1" ovf:fileRef="f1"/></DiskSection>`;
const drive = (host: string) =>
  `<Item><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>${host}</rasd:HostResource></Item>`;

/** A minimal OVF 1.0 envelope; `body` goes inside it, `hw` inside the VirtualHardwareSection. */
function envelope(body: string, hw?: string): string {
  const hwSection = hw === undefined ? '' : `<VirtualHardwareSection><Info>hw</Info>${hw}</VirtualHardwareSection>`;
  return `<Envelope xmlns="${OVF}" xmlns:ovf="${OVF}" xmlns:rasd="${RASD}">${body}
  <VirtualSystem ovf:id="vm"><Info>A VM</Info>${hwSection}</VirtualSystem></Envelope>`;
}

function rejects(text: string, code: string, msg: RegExp): void {
  assert.throws(
    () => parseOvf(text),
    (e: unknown) => e instanceof StorageError && e.code === code && msg.test(e.message),
    msg.source,
  );
}

describe('OVF descriptors ovftool accepts', () => {
  it('defaults a missing CPU and memory item (1 CPU, 512 MiB) with warnings', () => {
    const pkg = parseOvf(envelope(DISK, drive('ovf:/disk/d1')));
    assert.equal(DEFAULT_CPUS, 1);
    assert.equal(DEFAULT_MEMORY_BYTES, 512 * MiB);
    assert.equal(pkg.vm.cpus, 1);
    assert.equal(pkg.vm.memoryBytes, 512 * MiB);
    assert.equal(pkg.vm.disks.length, 1);
    assert.equal(pkg.warnings.length, 2);
    assert.match(pkg.warnings[0]!, /no CPU item.*1 CPU/);
    assert.match(pkg.warnings[1]!, /no memory item.*512 MiB/);
  });

  it('defaults CPU and memory items that have no VirtualQuantity', () => {
    const hw =
      '<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType></Item>' +
      '<Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>0</rasd:VirtualQuantity></Item>' +
      drive('ovf:/disk/d1');
    const pkg = parseOvf(envelope(DISK, hw));
    assert.deepEqual([pkg.vm.cpus, pkg.vm.memoryBytes], [DEFAULT_CPUS, DEFAULT_MEMORY_BYTES]);
    assert.equal(pkg.warnings.length, 2);
  });

  it('attaches DiskSection disks no drive item names (or with no VirtualHardwareSection at all)', () => {
    for (const hw of [undefined, '']) {
      const pkg = parseOvf(envelope(DISK, hw));
      assert.equal(pkg.vm.disks.length, 1, String(hw));
      assert.equal(pkg.vm.disks[0]!.file, 'd.vmdk');
      assert.equal(pkg.vm.disks[0]!.capacity, 1 << 30);
      assert.ok(
        pkg.warnings.some((w) => /disk d1 is attached by no disk drive item/.test(w)),
        pkg.warnings.join(),
      );
    }
    assert.ok(parseOvf(envelope(DISK)).warnings.some((w) => /no VirtualHardwareSection/.test(w)));
  });

  it('accepts missing optional sections, unknown elements and other prefixes silently', () => {
    const ovf = vmwareOvf('d.vmdk', 4096, 1)
      .replace(/<NetworkSection>[\s\S]*?<\/NetworkSection>/, '')
      .replace(/<OperatingSystemSection[\s\S]*?<\/OperatingSystemSection>/, '')
      .replace(
        '<VirtualSystem ovf:id="web-01">',
        '<VirtualSystem ovf:id="web-01"><x:Annotation xmlns:x="urn:vendor" ovf:required="false"><x:Deep a="1"/></x:Annotation>',
      )
      .replace(
        '<rasd:ResourceType>3</rasd:ResourceType>',
        '<rasd:ResourceType>3</rasd:ResourceType><vmw:Unknown>7</vmw:Unknown>',
      )
      .replace('</References>', '</References><ProductSection><Info>p</Info><Product>x</Product></ProductSection>');
    const pkg = parseOvf(ovf);
    assert.deepEqual(pkg.warnings, []);
    assert.deepEqual([pkg.vm.cpus, pkg.vm.memoryBytes, pkg.vm.nics.length, pkg.vm.os], [2, 2048 * MiB, 1, undefined]);

    // Every element prefixed ovf:, rasd: spelled r:, no default namespace.
    const prefixed = `<ovf:Envelope xmlns:ovf="${OVF}" xmlns:r="${RASD}">
  <ovf:References><ovf:File ovf:href="d.vmdk" ovf:id="f1"/></ovf:References>
  <ovf:DiskSection><ovf:Info>x</ovf:Info><ovf:Disk ovf:capacity="1048576" ovf:diskId="d1" ovf:fileRef="f1"/></ovf:DiskSection>
  <ovf:VirtualSystem ovf:id="vm"><ovf:Info>x</ovf:Info><ovf:VirtualHardwareSection><ovf:Info>x</ovf:Info>
    <ovf:Item><r:InstanceID>1</r:InstanceID><r:ResourceType>3</r:ResourceType><r:VirtualQuantity>2</r:VirtualQuantity></ovf:Item>
    <ovf:Item><r:InstanceID>2</r:InstanceID><r:ResourceType>4</r:ResourceType><r:VirtualQuantity>256</r:VirtualQuantity></ovf:Item>
    <ovf:Item><r:InstanceID>3</r:InstanceID><r:ResourceType>17</r:ResourceType><r:HostResource>ovf:/disk/d1</r:HostResource></ovf:Item>
  </ovf:VirtualHardwareSection></ovf:VirtualSystem></ovf:Envelope>`;
    const p2 = parseOvf(prefixed);
    assert.deepEqual([p2.vm.cpus, p2.vm.memoryBytes, p2.vm.disks[0]!.capacity, p2.warnings], [2, 256 * MiB, MiB, []]);
  });

  it('accepts unqualified OVF attributes, ovf://disk/ references and a disk without a capacity', () => {
    const body = `<References><File href="d.vmdk" id="f1"/></References>
  <DiskSection><Info>disks</Info><Disk diskId="d1" fileRef="f1"/></DiskSection>`;
    const pkg = parseOvf(envelope(body, drive('ovf://disk/d1')));
    assert.equal(pkg.vm.disks[0]!.file, 'd.vmdk');
    assert.equal(pkg.vm.disks[0]!.capacity, 0);
    assert.ok(
      pkg.warnings.some((w) => /disk d1 has no capacity/.test(w)),
      pkg.warnings.join(),
    );
  });

  it('accepts files in subfolders of the package', () => {
    const pkg = parseOvf(envelope(DISK.replace('"d.vmdk"', '"disks/d.vmdk"'), drive('ovf:/disk/d1')));
    assert.equal(pkg.vm.disks[0]!.file, 'disks/d.vmdk');
  });
});

describe('OVF descriptors that stay refused', () => {
  it('refuses file references that leave the package', () => {
    for (const href of [
      '../d.vmdk',
      'a/../../d.vmdk',
      '/etc/passwd',
      'C:\\d.vmdk',
      'http://x/d.vmdk',
      '.',
      'a//b',
      '',
    ]) {
      rejects(
        envelope(DISK.replace('"d.vmdk"', JSON.stringify(href)), drive('ovf:/disk/d1')),
        'corrupt',
        /file reference|without ovf:id or ovf:href/,
      );
    }
  });

  it('refuses disk references that resolve to nothing', () => {
    rejects(envelope(DISK, drive('ovf:/disk/nope')), 'corrupt', /unknown disk 'nope'/);
    rejects(
      envelope(DISK.replace('ovf:fileRef="f1"', 'ovf:fileRef="f9"'), drive('ovf:/disk/d1')),
      'corrupt',
      /unknown file 'f9'/,
    );
    rejects(envelope(DISK, drive('ovf:/file/f9')), 'corrupt', /unknown file 'f9'/);
    rejects(envelope(DISK, drive('somewhere-else')), 'corrupt', /names neither a disk nor a file/);
  });

  it('refuses a descriptor without a disk, or without a VirtualSystem', () => {
    rejects(envelope('', ''), 'corrupt', /no disk/);
    rejects(`<Envelope xmlns="${OVF}"><References/></Envelope>`, 'corrupt', /no VirtualSystem/);
  });
});
