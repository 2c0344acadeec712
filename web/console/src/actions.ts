/**
 * What the page may ask of a VM in each state, and what needs a confirmation. The daemon is the
 * judge (409 for a wrong state); this only keeps buttons that cannot act disabled and makes
 * destructive ones ask first. No DOM types (tested under Node).
 */

export type VmAction = 'start' | 'shutdown' | 'stop' | 'pause' | 'resume' | 'reboot' | 'snapshot' | 'clone' | 'delete';

export const VM_ACTIONS: readonly VmAction[] = [
  'start',
  'shutdown',
  'stop',
  'pause',
  'resume',
  'reboot',
  'snapshot',
  'clone',
  'delete',
];

const ALLOWED: Record<VmAction, readonly string[]> = {
  start: ['stopped', 'crashed'],
  shutdown: ['running'],
  stop: ['running', 'paused', 'stopping'],
  pause: ['running'],
  resume: ['paused'],
  reboot: ['running'],
  // Running or paused: disks and RAM; stopped: disks only (docs/manager.md, Snapshots).
  snapshot: ['running', 'paused', 'stopped', 'crashed'],
  // A copy of a disk in use would not be consistent: the daemon wants the source stopped.
  clone: ['stopped', 'crashed'],
  // In a browser tab: the daemon takes it back from the tab (without its RAM), then deletes it.
  delete: ['stopped', 'crashed', 'running', 'paused', 'stopping', 'in-browser'],
};

/** Whether `action` can act on a VM in `state` (and no long operation is running on it). */
export function canAct(action: VmAction, state: string, busy = false): boolean {
  return !busy && ALLOWED[action].includes(state);
}

/**
 * The question a destructive action asks before it runs, or undefined if it needs none.
 * Losing the guest's unsaved work or files counts as destructive.
 */
export function confirmation(
  action: VmAction | 'revert' | 'delete-snapshot',
  vm: string,
  state: string,
  detail = '',
): string | undefined {
  switch (action) {
    case 'stop':
      return `Power off '${vm}' now? The guest gets no chance to save its work.`;
    case 'reboot':
      return `Reset '${vm}'? The guest restarts at once, without shutting down.`;
    case 'delete':
      return state === 'stopped' || state === 'crashed'
        ? `Delete '${vm}' with its disks and snapshots? This cannot be undone.`
        : `'${vm}' is ${state}: power it off and delete it with its disks and snapshots? This cannot be undone.`;
    case 'revert':
      return `Revert '${vm}' to snapshot '${detail}'? Everything since the snapshot is lost${state === 'running' || state === 'paused' ? ' (the VM is stopped first)' : ''}.`;
    case 'delete-snapshot':
      return `Delete snapshot '${detail}' of '${vm}'?`;
    default:
      return undefined;
  }
}

/** The API request for a simple action (not snapshot or clone, which take a name). */
export function actionRequest(
  action: VmAction,
  vm: string,
  state: string,
): { method: string; path: string; body?: unknown } {
  const base = `/v1/vms/${encodeURIComponent(vm)}`;
  if (action === 'delete')
    return { method: 'DELETE', path: state === 'stopped' || state === 'crashed' ? base : `${base}?force=true` };
  return { method: 'POST', path: `${base}/${action}` };
}
