/**
 * QEMU's spellings of `virtkit run`'s flags, for people who type them out of habit. Decided per
 * flag by one rule: accepted when QEMU's meaning and value syntax are virtkit's (the flag is then a
 * plain alias), else refused with the virtkit command line that does the same, built from the value.
 *
 *   -m SIZE, -smp N, -kernel, -initrd, -append   accepted: same meaning, same values (-m 512 is MiB)
 *   -bios FILE|none                              accepted as --firmware: an M-mode firmware loaded at
 *                                                RAM base, or none (the -kernel ELF runs in M-mode)
 *   -cpu MODEL                                   accepted: virtkit's models are rv64gc, rva22, max
 *                                                (QEMU's other names get --cpu's error listing them)
 *   -nographic                                   accepted and ignored: virtkit never opens a window,
 *                                                its serial console is always this terminal
 *   -drive, -hda, -netdev, -nic                  refused with the translation: their option lists
 *                                                differ (if=, id=, model=; -netdev alone adds no NIC)
 *   -M/-machine, -serial, -enable-kvm            refused: virtkit has one board and one console,
 *                                                and no accelerator
 */
import type { ForeignFlag } from './args.ts';

/** `-drive file=d.qcow2,format=qcow2,if=virtio` -> `--disk d.qcow2,format=qcow2`. */
function driveHint(v: string | undefined): string {
  if (!v) return 'use --disk FILE[,format=F][,readonly]';
  const keep: string[] = [];
  let file = '';
  for (const p of v.split(',')) {
    const [k, val] = p.split('=', 2) as [string, string | undefined];
    if (k === 'file' && val !== undefined) file = val;
    else if (k === 'format' && val) keep.push(p);
    else if (k === 'readonly' && val !== 'off') keep.push('readonly');
    else if (val === undefined && !file) file = k;
  }
  return `did you mean '--disk ${[file || 'FILE', ...keep].join(',')}'?`;
}

/** `-netdev user,id=n0,hostfwd=...` -> `--net user,hostfwd=...` (virtkit's --net is netdev and NIC in one). */
function netHint(v: string | undefined): string {
  if (!v) return 'use --net user[,hostfwd=...] (one --net adds a NIC and its network)';
  const parts = v.split(',').filter((p) => !/^(id|model|netdev)=/.test(p));
  return `did you mean '--net ${parts.join(',')}'? (one --net adds a NIC and its network; no id=, no -device)`;
}

const drop = (what: string): ForeignFlag => ({ hint: () => `${what}: drop it`, takesValue: true });

export const QEMU_RUN_FLAGS: Record<string, ForeignFlag> = {
  m: { as: 'memory' },
  smp: { as: 'cpus' },
  kernel: { as: 'kernel' },
  initrd: { as: 'initrd' },
  append: { as: 'append' },
  nographic: { ignore: true },
  drive: { hint: driveHint, takesValue: true },
  hda: { hint: (v) => `did you mean '--disk ${v ?? 'FILE'}'?`, takesValue: true },
  netdev: { hint: netHint, takesValue: true },
  nic: { hint: netHint, takesValue: true },
  bios: { as: 'firmware' },
  cpu: { as: 'cpu' },
  M: drop("virtkit has one board, QEMU's virt"),
  machine: drop("virtkit has one board, QEMU's virt"),
  serial: drop('the serial console is always this terminal'),
  'enable-kvm': { hint: () => 'virtkit is an emulator without accelerators: drop it', takesValue: false },
};
