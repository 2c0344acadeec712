/**
 * QMP's standard commands and events, as QEMU answers them (checked against qemu-system-riscv64
 * by tests/qmp/compat.test.ts): each acts on the monitor's QmpTarget and sends the event QEMU
 * sends for it (events go out before the command's answer, as in QEMU).
 *
 * Events: STOP, RESUME (no data), POWERDOWN (no data), RESET {guest, reason} and SHUTDOWN
 * {guest, reason}, with QEMU's ShutdownCause words as `reason` (host-qmp-quit,
 * host-qmp-system-reset, guest-shutdown, guest-reset, guest-panic, host-signal, host-ui, host-error).
 */
import { QmpError, type QmpMonitor } from './monitor.ts';

/** The ShutdownCause values virtkit reports (QEMU's names). */
export type ShutdownReason =
  | 'host-qmp-quit'
  | 'host-qmp-system-reset'
  | 'host-signal'
  | 'host-ui'
  | 'host-error'
  | 'guest-shutdown'
  | 'guest-reset'
  | 'guest-panic';

export const shutdownEvent = (guest: boolean, reason: ShutdownReason) => ({ guest, reason });

export function registerStandardCommands(m: QmpMonitor): void {
  const t = m.target;
  m.register('qmp_capabilities', {
    args: { enable: { type: 'array', optional: true } },
    run(args, conn) {
      for (const cap of (args.enable as unknown[] | undefined) ?? []) {
        // QEMU's only capability is oob, which virtkit does not offer (the greeting lists none).
        if (cap === 'oob') throw new QmpError('GenericError', "Capability 'oob' not available");
        throw new QmpError('GenericError', `Parameter 'enable' does not accept value '${String(cap)}'`);
      }
      conn.negotiated = true;
      return {};
    },
  });
  m.register('query-version', { run: () => t.version });
  m.register('query-name', { run: () => (t.name !== undefined ? { name: t.name } : {}) });
  m.register('query-commands', { run: () => m.commandNames.map((name) => ({ name })) });
  m.register('query-status', {
    run() {
      const status = t.status();
      // `singlestep` is still in QEMU 7.2's answer (always false without a debugger attached).
      return { status, singlestep: false, running: status === 'running' };
    },
  });
  m.register('stop', {
    run() {
      if (t.stop()) m.emit('STOP');
      return {};
    },
  });
  m.register('cont', {
    run() {
      const s = t.status();
      // QEMU's answer for a VM that powered off or panicked.
      if (s === 'shutdown' || s === 'guest-panicked' || s === 'internal-error')
        throw new QmpError('GenericError', 'Resetting the Virtual Machine is required');
      if (t.cont()) m.emit('RESUME');
      return {};
    },
  });
  m.register('system_powerdown', {
    run() {
      // QEMU always has an ACPI or virt power button; a virtkit machine without one says so.
      if (!t.pressPowerButton()) throw new QmpError('GenericError', 'this machine has no power button');
      m.emit('POWERDOWN');
      return {};
    },
  });
  m.register('system_reset', {
    run() {
      const s = t.status();
      if (s === 'shutdown' || s === 'guest-panicked' || s === 'internal-error')
        throw new QmpError('GenericError', 'the VM has stopped: there is nothing to reset');
      if (!t.reset()) throw new QmpError('GenericError', 'the VM is already rebooting');
      m.emit('RESET', shutdownEvent(false, 'host-qmp-system-reset'));
      return {};
    },
  });
  m.register('quit', {
    run() {
      m.emit('SHUTDOWN', shutdownEvent(false, 'host-qmp-quit'));
      // After the answer is queued (it is sent when run returns): the host then closes up.
      void Promise.resolve().then(() => t.quit());
      return {};
    },
  });
}
