/**
 * Runs the second stage of the Debian system build inside virtkit: the default guest (Debian's
 * kernel, busybox initramfs) boots with the half-made disk attached, its shell mounts the new root
 * and runs the stage-2 script the host put there (debian-system-scripts.ts). This file drives the
 * console and turns what dpkg prints into progress; the guest powers off when the stage ends.
 *
 * Bounded: the console text kept for parsing is the last line only plus a 64 KiB tail for error
 * reports; a guest that stops printing for IDLE_LIMIT_MS of guest-visible silence, or runs past
 * the overall limit, is stopped and reported, never waited on forever.
 */
import { appendFile } from 'node:fs/promises';
import { VmSession } from '../../../vmm/session.ts';
import { VM_SPEC_VERSION } from '../../../vmm/vm-spec.ts';
import { nodeVmHost } from '../vm-host.ts';
import { openImageFile } from '../open-image.ts';
import { GuestFetchError } from './errors.ts';
import { STAGE2_PHASE, STAGE2_RESULT, STAGE_DIR } from './debian-system-scripts.ts';

export interface Stage2Progress {
  phase: string;
  unpacked: number;
  configured: number;
}

export interface Stage2Options {
  kernel: Uint8Array;
  initrd: Uint8Array;
  disk: string;
  /** Packages dpkg installs (for "N of total"). */
  total: number;
  memoryBytes?: number;
  /** Every byte of console output is appended here (the build log). */
  logFile: string;
  progress: (p: Stage2Progress) => void;
  /** No console output for this long means the stage is stuck (default 30 min). */
  idleLimitMs?: number;
}

const TAIL_BYTES = 64 * 1024;

/** The build log's bound (a normal stage 2 writes about 2 MiB). */
const LOG_LIMIT = 64 * 1024 * 1024;

export async function runStage2(o: Stage2Options): Promise<{ seconds: number; instructions: number }> {
  const backend = await openImageFile(o.disk, { format: 'raw', readOnly: false });
  const started = Date.now();
  let tail = '';
  let line = '';
  let typed = false;
  let poweringOff = false;
  let result: number | undefined;
  const state: Stage2Progress = { phase: 'boot', unpacked: 0, configured: 0 };
  let logQueue: Promise<unknown> = Promise.resolve();
  let logged = 0;
  const decoder = new TextDecoder();

  return new Promise((resolve, reject) => {
    let idleTimer: NodeJS.Timeout | undefined;
    const idleLimit = o.idleLimitMs ?? 30 * 60_000;
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        session.stop({ kind: 'quit' });
        finish(
          new GuestFetchError(
            `stage 2 printed nothing for ${idleLimit / 60_000} min in phase ${state.phase}: stopped (log: ${o.logFile})`,
          ),
        );
      }, idleLimit);
    };
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(idleTimer);
      void logQueue
        .then(() => backend.flush())
        .then(() => backend.close())
        .then(() => {
          if (err) reject(err);
          else resolve({ seconds: (Date.now() - started) / 1000, instructions: session.instructions });
        }, reject);
    };
    const onLine = (l: string) => {
      const phase = new RegExp(`^${STAGE2_PHASE} (\\S+)`).exec(l);
      if (phase) state.phase = phase[1]!;
      else if (/^Unpacking \S+/.test(l)) state.unpacked++;
      else if (/^Setting up \S+/.test(l)) state.configured++;
      else {
        const r = new RegExp(`^${STAGE2_RESULT} rc=(\\d+)`).exec(l);
        if (r) result = Number(r[1]);
        else return;
      }
      o.progress({ ...state });
    };
    const session = VmSession.boot(
      {
        version: VM_SPEC_VERSION,
        memoryBytes: o.memoryBytes ?? 1024 * 1024 * 1024,
        cpus: 1,
        boot: { kernel: o.kernel, initrd: o.initrd },
        append: 'console=ttyS0 COLUMNS=29999',
        disks: [{ backend, readOnly: false, source: o.disk, format: 'raw' }],
        nics: [],
      },
      nodeVmHost,
      {
        output(bytes) {
          armIdle();
          const text = decoder.decode(bytes, { stream: true });
          // The log has a bound (a runaway guest loop must not fill the host's disk); the tail
          // kept in memory for error messages is bounded too.
          if (logged < LOG_LIMIT) {
            const part = logged + bytes.length > LOG_LIMIT ? bytes.subarray(0, LOG_LIMIT - logged) : bytes;
            logged += part.length;
            const note = logged >= LOG_LIMIT ? `\n[virtkit: the log stops here at ${LOG_LIMIT >> 20} MiB]\n` : '';
            logQueue = logQueue
              .then(() => appendFile(o.logFile, part))
              .then(() => (note ? appendFile(o.logFile, note) : undefined));
          }
          tail = (tail + text).slice(-TAIL_BYTES);
          for (const ch of text) {
            if (ch === '\n') {
              onLine(line.replace(/\r$/, ''));
              line = '';
            } else if (line.length < 4096) line += ch;
          }
          if (result !== undefined && !poweringOff) {
            // The stage reported (the disk is unmounted): the shell reads this once the script ends.
            poweringOff = true;
            session.input(new TextEncoder().encode('poweroff -f\n'));
          }
        },
        firstPrompt() {
          if (typed) return;
          typed = true;
          state.phase = 'mount';
          o.progress({ ...state });
          // Run from a copy: a script read from /mnt would keep it busy and unmountable.
          session.input(
            new TextEncoder().encode(
              `mount -t ext4 /dev/vda1 /mnt && cp /mnt/${STAGE_DIR}/stage2.sh /tmp/stage2 && sh /tmp/stage2\n`,
            ),
          );
        },
        stopped(_reason, text) {
          if (result === 0) finish();
          else if (result !== undefined)
            finish(
              new GuestFetchError(
                `stage 2 failed in phase ${state.phase} (exit status ${result}); the end of its log:\n${lastLines(tail, 25)}\n(whole log: ${o.logFile})`,
              ),
            );
          else
            finish(
              new GuestFetchError(
                `the stage-2 VM stopped before the stage ended (${text}) in phase ${state.phase}:\n${lastLines(tail, 25)}\n(whole log: ${o.logFile})`,
              ),
            );
        },
      },
    );
    armIdle();
    session.start();
  });
}

function lastLines(text: string, n: number): string {
  return text.replace(/\r/g, '').split('\n').slice(-n).join('\n');
}
