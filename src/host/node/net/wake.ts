/**
 * Lets host I/O wake a VM whose harts all sleep in WFI. The VM loop sleeps up to 50 ms at a
 * time (vm.ts); a network frame that raised an interrupt should not wait that long, so this
 * VmHost wrapper remembers the pending sleep and wake() runs it now instead.
 */
import type { VmHost } from '../../../vmm/vm.ts';

export function wakeableHost(base: VmHost): { host: VmHost; wake: () => void } {
  let pending: { fn: () => void; cancel: () => void } | undefined;
  const host: VmHost = {
    nowMs: () => base.nowMs(),
    yieldTo: (fn) => base.yieldTo(fn),
    sleep: (fn, ms) => {
      const entry = { fn, cancel: () => {} };
      entry.cancel = base.sleep(() => {
        if (pending === entry) pending = undefined;
        fn();
      }, ms);
      pending = entry;
      return () => {
        if (pending === entry) pending = undefined;
        entry.cancel();
      };
    },
  };
  const wake = () => {
    const p = pending;
    if (!p) return;
    pending = undefined;
    p.cancel();
    base.yieldTo(p.fn);
  };
  return { host, wake };
}
