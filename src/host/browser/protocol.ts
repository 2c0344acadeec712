/**
 * Messages between the page (UI thread) and the worker that runs the VM. Plain structured-clone
 * data; byte arrays are transferred, not copied.
 */
import type { BlobLike } from './blob-store.ts';
import type { BootConfig } from './guest-config.ts';
import type { RemoteVm } from './daemon-vm.ts';

/** A host file the user added as a disk (a DOM File: a Blob with a name). */
export interface FileDisk {
  file: BlobLike & { readonly name: string };
  format?: string;
  /** Copy-on-write in memory; otherwise the guest sees a read-only disk. */
  writable: boolean;
}

export type UiMessage =
  | { t: 'boot'; config: BootConfig; files: FileDisk[] }
  | { t: 'input'; data: Uint8Array }
  /** The page's terminal has shown `bytes` more bytes of output (xterm's write callback). */
  | { t: 'output-ack'; bytes: number }
  | { t: 'pause' }
  | { t: 'resume' }
  | { t: 'save' }
  /** Press the guest's power button (the default guest shuts down cleanly). */
  | { t: 'power-button' }
  | { t: 'restore'; bytes: Uint8Array; name: string; files: FileDisk[] }
  /** Continue a VM `virtkit daemon` moved into this tab: its snapshot, its disks through the daemon. */
  | { t: 'adopt'; bytes: Uint8Array; remote: RemoteVm }
  /** Pause the adopted VM for good and answer its snapshot for the daemon ('leave'). */
  | { t: 'send-back' };

export type VmPhase = 'downloading' | 'opening disks' | 'booting' | 'running' | 'paused' | 'restoring' | 'stopped';

export type WorkerMessage =
  | { t: 'phase'; phase: VmPhase; detail?: string }
  | { t: 'progress'; what: string; loaded: number; total: number | undefined }
  | { t: 'output'; data: Uint8Array }
  | { t: 'stats'; instret: number; mips: number; seconds: number }
  /** The first shell prompt since boot or restore; ms counted from the VM's start. */
  /** The first shell prompt; `wasmPages`: guest pages translated to WebAssembly so far in this worker (0: not that tier). */
  | { t: 'prompt'; ms: number; instret: number; wasmPages: number }
  | { t: 'snapshot'; bytes: Uint8Array }
  /** The adopted VM, paused, as a snapshot for the daemon; `wasRunning`: resume it if the daemon refuses. */
  | { t: 'leave'; bytes: Uint8Array; wasRunning: boolean }
  | { t: 'error'; message: string }
  | { t: 'stopped'; reason: string };
