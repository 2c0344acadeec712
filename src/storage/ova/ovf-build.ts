/**
 * Writing an OVF 1.0 descriptor laid out as VMware ovftool writes it: rasd fields in schema
 * (alphabetical) order, capacities in "byte * 2^30" when whole GiB, memory in "byte * 2^20",
 * one SCSI controller for the disks, HostResource "ovf:/disk/vmdiskN".
 */
import { STREAM_OPTIMIZED_URI } from './ovf-parse.ts';
import type { VmDefinition } from './vm.ts';
import { escapeXml } from './xml.ts';

export interface BuildDisk {
  href: string;
  /** Size of the file in the package. */
  fileSize: number;
  capacity: number;
  formatUri?: string;
}

function item(fields: Record<string, string | number | undefined>, indent = '      '): string {
  const lines = Object.keys(fields)
    .filter((k) => fields[k] !== undefined)
    .sort()
    .map((k) => `${indent}  <rasd:${k}>${escapeXml(String(fields[k]))}</rasd:${k}>`);
  return `${indent}<Item>\n${lines.join('\n')}\n${indent}</Item>`;
}

function capacity(bytes: number): { value: number; units: string } {
  if (bytes % 2 ** 30 === 0) return { value: bytes / 2 ** 30, units: 'byte * 2^30' };
  if (bytes % 2 ** 20 === 0) return { value: bytes / 2 ** 20, units: 'byte * 2^20' };
  return { value: bytes, units: 'byte' };
}

export function buildOvf(vm: VmDefinition, disks: BuildDisk[]): string {
  const name = escapeXml(vm.name);
  const networks = [...new Set(vm.nics.map((n) => n.network || 'VM Network'))];
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    '<Envelope vmw:buildId="virtkit" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" ' +
      'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" ' +
      'xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" ' +
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
  );
  out.push('  <References>');
  disks.forEach((d, i) =>
    out.push(`    <File ovf:href="${escapeXml(d.href)}" ovf:id="file${i + 1}" ovf:size="${d.fileSize}"/>`),
  );
  out.push('  </References>');
  out.push('  <DiskSection>');
  out.push('    <Info>Virtual disk information</Info>');
  disks.forEach((d, i) => {
    const c = capacity(d.capacity);
    out.push(
      `    <Disk ovf:capacity="${c.value}" ovf:capacityAllocationUnits="${c.units}" ovf:diskId="vmdisk${i + 1}" ovf:fileRef="file${i + 1}" ` +
        `ovf:format="${escapeXml(d.formatUri ?? STREAM_OPTIMIZED_URI)}"/>`,
    );
  });
  out.push('  </DiskSection>');
  out.push('  <NetworkSection>');
  out.push('    <Info>The list of logical networks</Info>');
  for (const n of networks) {
    out.push(`    <Network ovf:name="${escapeXml(n)}">`);
    out.push(`      <Description>The ${escapeXml(n)} network</Description>`);
    out.push('    </Network>');
  }
  out.push('  </NetworkSection>');
  out.push(`  <VirtualSystem ovf:id="${name}">`);
  out.push('    <Info>A virtual machine</Info>');
  out.push(`    <Name>${name}</Name>`);
  const os = vm.os;
  const osType = os?.type ? ` vmw:osType="${escapeXml(os.type)}"` : '';
  out.push(`    <OperatingSystemSection ovf:id="${os?.id ?? 1}"${osType}>`);
  out.push('      <Info>The kind of installed guest operating system</Info>');
  if (os?.description) out.push(`      <Description>${escapeXml(os.description)}</Description>`);
  out.push('    </OperatingSystemSection>');
  out.push('    <VirtualHardwareSection>');
  out.push('      <Info>Virtual hardware requirements</Info>');
  out.push('      <System>');
  out.push('        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>');
  out.push('        <vssd:InstanceID>0</vssd:InstanceID>');
  out.push(`        <vssd:VirtualSystemIdentifier>${name}</vssd:VirtualSystemIdentifier>`);
  out.push('        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>');
  out.push('      </System>');
  let id = 1;
  out.push(
    item({
      AllocationUnits: 'hertz * 10^6',
      Description: 'Number of Virtual CPUs',
      ElementName: `${vm.cpus} virtual CPU(s)`,
      InstanceID: id++,
      ResourceType: 3,
      VirtualQuantity: vm.cpus,
    }),
  );
  const memMiB = vm.memoryBytes % 2 ** 20 === 0;
  out.push(
    item({
      AllocationUnits: memMiB ? 'byte * 2^20' : 'byte',
      Description: 'Memory Size',
      ElementName: memMiB ? `${vm.memoryBytes / 2 ** 20}MB of memory` : `${vm.memoryBytes} bytes of memory`,
      InstanceID: id++,
      ResourceType: 4,
      VirtualQuantity: memMiB ? vm.memoryBytes / 2 ** 20 : vm.memoryBytes,
    }),
  );
  if (disks.length > 0) {
    const scsi = id++;
    out.push(
      item({
        Address: 0,
        Description: 'SCSI Controller',
        ElementName: 'SCSI Controller 0',
        InstanceID: scsi,
        ResourceSubType: 'lsilogic',
        ResourceType: 6,
      }),
    );
    disks.forEach((_, i) =>
      out.push(
        item({
          AddressOnParent: i,
          ElementName: `Hard Disk ${i + 1}`,
          HostResource: `ovf:/disk/vmdisk${i + 1}`,
          InstanceID: id++,
          Parent: scsi,
          ResourceType: 17,
        }),
      ),
    );
  }
  vm.nics.forEach((n, i) => {
    const model = n.model ?? 'VmxNet3';
    const net = n.network || 'VM Network';
    out.push(
      item({
        Address: n.mac,
        AddressOnParent: 7 + i,
        AutomaticAllocation: 'true',
        Connection: net,
        Description: `${model} ethernet adapter on "${net}"`,
        ElementName: `Network adapter ${i + 1}`,
        InstanceID: id++,
        ResourceSubType: model,
        ResourceType: 10,
      }),
    );
  });
  out.push('    </VirtualHardwareSection>');
  out.push('  </VirtualSystem>');
  out.push('</Envelope>');
  return out.join('\n') + '\n';
}
