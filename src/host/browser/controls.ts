/**
 * Which of the page's VM buttons can act in each state, so a button that would do nothing (save
 * before boot, resume while running, reboot after a restore that has no boot files) is disabled.
 */
import type { VmPhase } from './protocol.ts';

/** The worker's phases plus the page's own: nothing started yet, and a worker being started. */
export type PagePhase = VmPhase | 'idle' | 'starting';

export interface ControlInput {
  phase: PagePhase;
  /** A snapshot was asked for and has not arrived (or failed) yet. */
  saving: boolean;
  /** The page knows boot settings to boot again with (a restored VM has none). */
  haveBootSettings: boolean;
}

export interface ControlStates {
  pause: boolean;
  resume: boolean;
  save: boolean;
  /** Press the guest's power button. */
  power: boolean;
  reboot: boolean;
}

/** true = enabled. */
export function controlStates(s: ControlInput): ControlStates {
  const live = s.phase === 'running' || s.phase === 'paused';
  return {
    pause: s.phase === 'running',
    resume: s.phase === 'paused',
    save: live && !s.saving,
    power: live,
    reboot: s.haveBootSettings && s.phase !== 'idle',
  };
}
