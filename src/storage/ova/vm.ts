/** The typed VM definition OVF import produces and OVA export consumes. */

export interface VmDisk {
  /** Member file name inside the package (absent for a blank disk the importer must create). */
  file?: string;
  /** Virtual size in bytes. */
  capacity: number;
  /** virtkit/qemu-img format name guessed from the OVF format URI or file name: 'vmdk', 'vhdx', 'vpc', 'qcow2', 'raw'. */
  format: string;
  /** The OVF ovf:format URI as written (e.g. the streamOptimized VMDK URI). */
  formatUri?: string;
  diskId?: string;
  /** Controller the disk hangs off, from the parent hardware item. */
  controller?: { kind: 'ide' | 'scsi' | 'sata' | 'other'; subtype?: string };
  /** rasd:AddressOnParent. */
  unit?: number;
}

export interface VmNic {
  /** Logical network name (rasd:Connection). */
  network: string;
  /** rasd:ResourceSubType, e.g. E1000, VmxNet3, virtio. */
  model?: string;
  mac?: string;
}

export interface VmOs {
  /** CIM operating system id (ovf:id of OperatingSystemSection). */
  id?: number;
  description?: string;
  /** vmw:osType or vbox:OSType, as the exporting tool wrote it. */
  type?: string;
}

export interface VmDefinition {
  name: string;
  cpus: number;
  memoryBytes: number;
  disks: VmDisk[];
  nics: VmNic[];
  os?: VmOs;
}
