/**
 * Why a VM stopped, in words: the one set of texts the CLI, the browser and the manager show,
 * and the class of the stop each front end maps to its own outcome (an exit status, a button).
 */
import type { StopReason } from './vm.ts';

/** Why a reboot stopped the VM when the reason carries no `why` (a board-level reboot event). */
const NO_REBOOT_FILES = 'the VM has no boot files to reboot from';

/**
 * One line for the user, without the front end's next step: a reboot that could not happen
 * reads "the guest asked to reboot, but WHY"; the CLI adds ": powering off", the page ": press Boot".
 */
export function describeStop(r: StopReason): string {
  switch (r.kind) {
    case 'poweroff':
      return 'the guest powered off';
    case 'quit':
      return 'stopped';
    case 'reboot':
      // Only a restored VM stops on reboot (a booted one boots again): its boot files are unusable.
      return `the guest asked to reboot, but ${'why' in r ? r.why : NO_REBOOT_FILES}`;
    case 'fail':
      return `the guest reported failure (code ${r.code})`;
    case 'panic':
      return 'guest kernel panic';
    case 'no-boot':
      return `the firmware found nothing to boot on the disk: ${r.why}`;
    case 'error':
      return `internal error: ${r.message}`;
  }
}

/**
 * clean: powered off or quit; guest-failed: a panic or a failure report; cannot-reboot: a
 * restored guest rebooted without usable boot files; internal-error: virtkit itself failed.
 */
export type StopClass = 'clean' | 'guest-failed' | 'cannot-reboot' | 'internal-error';

export function classifyStop(r: StopReason): StopClass {
  switch (r.kind) {
    case 'poweroff':
    case 'quit':
      return 'clean';
    case 'reboot':
      return 'cannot-reboot';
    case 'panic':
    case 'no-boot':
    case 'fail':
      return 'guest-failed';
    case 'error':
      return 'internal-error';
  }
}
