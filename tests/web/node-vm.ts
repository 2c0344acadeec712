/**
 * The default guest booted in this Node process through the same VmSession `virtkit run` uses and the
 * snapshot configuration it writes ({ disks, append }), for the browser tests and bench/browser:
 * a piped `virtkit run` cannot be driven interactively here (it holds piped input until its
 * prompt pattern matches, and busybox's trailing cursor query can hide the prompt from it).
 */
import { readFile } from 'node:fs/promises';
import type { VmHost } from '../../src/vmm/vm.ts';
import { VmSession } from '../../src/vmm/session.ts';
import { VM_SPEC_VERSION } from '../../src/vmm/vm-spec.ts';

export const nodeHost: VmHost = {
  nowMs: () => performance.now(),
  yieldTo: (fn) => setImmediate(fn),
  sleep: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

export interface NodeGuest {
  vm: VmSession;
  /** Console output so far (latin1). */
  output(): string;
  /** Resolves with the output once re matches it; rejects after timeoutMs or if the VM stops. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  type(text: string): void;
  /** A snapshot file exactly as `virtkit run --save-on-exit` writes it for a guest without disks. */
  snapshot(): Promise<Uint8Array>;
}

export async function bootNodeGuest(
  kernelPath: string,
  initrdPath: string,
  append = 'console=ttyS0',
): Promise<NodeGuest> {
  const kernel = new Uint8Array(await readFile(kernelPath));
  const initrd = new Uint8Array(await readFile(initrdPath));
  let out = '';
  let stopped: string | undefined;
  const waiters = new Set<() => void>();
  const spec = { version: VM_SPEC_VERSION as typeof VM_SPEC_VERSION, memoryBytes: 512 * 1024 * 1024, cpus: 1, boot: { kernel, initrd } };
  const vm = VmSession.boot({ ...spec, append, disks: [], nics: [] }, nodeHost, {
    output: (b) => {
      out += new TextDecoder('latin1').decode(b);
      for (const w of waiters) w();
    },
    stopped: (r) => {
      stopped = r.kind;
      for (const w of waiters) w();
    },
  });
  vm.start();
  return {
    vm,
    output: () => out,
    waitFor: (re, timeoutMs) =>
      new Promise((ok, ko) => {
        const check = () => {
          if (re.test(out)) done(() => ok(out));
          else if (stopped) done(() => ko(new Error(`the VM stopped (${stopped}) before ${re}: ${out.slice(-500)}`)));
        };
        const timer = setTimeout(
          () => done(() => ko(new Error(`no ${re} in ${timeoutMs} ms; output ends:\n${out.slice(-500)}`))),
          timeoutMs,
        );
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      }),
    type: (text) => vm.input(new TextEncoder().encode(text)),
    snapshot: () => vm.save(() => ({ disks: [], append })),
  };
}
