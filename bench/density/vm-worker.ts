/**
 * One VM in a worker thread, for bench/density/workers.ts: boots the default guest from the
 * bytes the parent sends, reports its first prompt, then idles until the parent ends the process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VmSession } from '../../src/vmm/session.ts';
import { VM_SPEC_VERSION } from '../../src/vmm/vm-spec.ts';
import { nodeVmHost } from '../../src/host/node/vm-host.ts';

const { kernel, initrd, memoryMiB } = workerData as { kernel: Uint8Array; initrd: Uint8Array; memoryMiB: number };
const session = VmSession.boot(
  {
    version: VM_SPEC_VERSION,
    memoryBytes: memoryMiB * 1024 * 1024,
    cpus: 1,
    boot: { kernel, initrd },
    append: 'console=ttyS0',
    disks: [],
    nics: [],
    // The files stay with the parent: this VM keeps no copy once they are in its RAM.
    reloadBoot: () => Promise.reject(new Error('no reboot in this benchmark')),
  },
  nodeVmHost,
  {
    output: () => {},
    stopped: (_r, text) => parentPort!.postMessage({ stopped: text }),
    firstPrompt: (at) => parentPort!.postMessage({ prompt: at.ms }),
  },
);
session.start();
