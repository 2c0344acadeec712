/**
 * The VmHost of a Node.js process: wall-clock time, macrotask yields (setImmediate, so I/O
 * callbacks run between turns) and cancellable sleeps for a guest idling in WFI.
 */
import type { VmHost } from '../../vmm/vm.ts';

export const nodeVmHost: VmHost = {
  nowMs: () => performance.now(),
  yieldTo: (fn) => setImmediate(fn),
  sleep: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
