/**
 * Spots U-Boot giving up on a disk boot, so a VM whose firmware found nothing to boot stops with a
 * reason instead of sitting at U-Boot's `=>` prompt forever.
 *
 * What U-Boot prints (Debian's qemu-riscv64_smode build, distro boot), as read from real runs:
 *
 *   U-Boot 2025.01-3+deb13u1 (...)                 the banner
 *   Hit any key to stop autoboot:  2  1  0         the countdown ("\b\b\b%2d " per second)
 *   Device 0: QEMU VirtIO Block Device ...         autoboot: each boot target in turn
 *   ** No partition table - virtio 0 **            (no partition table)
 *   Scanning virtio 0:1...                         (a partition with a filesystem U-Boot reads)
 *   Retrieving file: /boot/extlinux/extlinux.conf  (extlinux.conf found) ...
 *   ** File not found /boot/Image **               (a file it names is missing)
 *   Starting kernel ...                            success: the watch is done
 *   ...
 *   =>                                             every target failed: the prompt, waiting
 *
 * A key pressed during the countdown stops autoboot on purpose: U-Boot then shows its prompt right
 * after the countdown, with no boot attempt in between; that is someone at the console, so the
 * watch switches off. Cost: the watch decodes output only between U-Boot's banner and the kernel's
 * start (a few KiB); without a banner in a board's first OUTPUT_WINDOW bytes it switches off.
 */

/** Output a board may print before U-Boot's banner (OpenSBI's is about 3 KiB). */
const OUTPUT_WINDOW = 64 * 1024;
/** Text kept after the banner to explain a failure (U-Boot's boot attempts print a few KiB). */
const KEEP = 16 * 1024;

const BANNER = /(^|\n)U-Boot \d{4}\.\d{2}/;
const COUNTDOWN = 'Hit any key to stop autoboot:';
const PROMPT = /\n=> $/;
const KERNEL_STARTS = /Starting kernel \.\.\.|\nLinux version /;

export class BootWatch {
  private state: 'looking' | 'uboot' | 'off' = 'looking';
  private seenBytes = 0;
  /** Text since U-Boot's banner (the last KEEP characters). */
  private text = '';

  /** Looks at the next chunk of output; returns why the boot failed once U-Boot gives up, else undefined. */
  feed(bytes: Uint8Array): string | undefined {
    if (this.state === 'off' || bytes.length === 0) return undefined;
    // Latin-1: every byte one character, whatever the firmware prints.
    let chunk = '';
    for (let i = 0; i < bytes.length; i += 8192)
      chunk += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 8192)));
    if (this.state === 'looking') {
      const joined = this.text + chunk;
      this.seenBytes += bytes.length;
      const m = BANNER.exec(joined);
      if (!m) {
        // The tail may hold the start of a banner the next chunk completes.
        this.text = joined.slice(-32);
        if (this.seenBytes > OUTPUT_WINDOW) this.off();
        return undefined;
      }
      this.state = 'uboot';
      this.text = joined.slice(m.index).slice(-KEEP);
    } else {
      this.text = (this.text + chunk).slice(-KEEP);
    }
    if (KERNEL_STARTS.test(this.text)) {
      this.off();
      return undefined;
    }
    if (!PROMPT.test(this.text.replace(/\r/g, ''))) return undefined;
    const countdown = this.text.lastIndexOf(COUNTDOWN);
    const attempts = countdown < 0 ? this.text : this.text.slice(countdown + COUNTDOWN.length);
    // Only digits, spaces and backspaces between the countdown and the prompt: a key stopped autoboot.
    if (countdown >= 0 && !/[A-Za-z]/.test(attempts.replace(/\n=> $/, ''))) {
      this.off();
      return undefined;
    }
    const why = explain(attempts);
    this.off();
    return why;
  }

  private off(): void {
    this.state = 'off';
    this.text = '';
  }
}

/** U-Boot's own words for the first thing that failed, as one clause. */
export function explain(attempts: string): string {
  const t = attempts.replace(/\r/g, '');
  const missing = /\*\* File not found (\S+) \*\*/.exec(t);
  if (missing) {
    const label = /Skipping (\S+) for failure retrieving (\w+)/.exec(t);
    const what = label ? `the ${label[2]} of extlinux.conf's label '${label[1]}'` : 'a file extlinux.conf names';
    return `${what}, ${missing[1]}, is not on the disk (U-Boot: "** File not found ${missing[1]} **")`;
  }
  const noTable = /\*\* No partition table - (.+?) \*\*/.exec(t);
  if (noTable) return `the disk has no partition table (U-Boot: "** No partition table - ${noTable[1]} **")`;
  const scanned = [...t.matchAll(/Scanning (\S+ \d+:\d+)\.\.\./g)].map((m) => m[1]);
  if (scanned.length && !/Retrieving file: \S*extlinux\.conf/.test(t))
    return `no /extlinux/extlinux.conf or /boot/extlinux/extlinux.conf on partition ${scanned.join(', ')} (nor a boot.scr or EFI loader)`;
  if (/Retrieving file: \S*extlinux\.conf/.test(t))
    return "no label of extlinux.conf could be booted (see U-Boot's messages above)";
  if (/is now current device/.test(t))
    return 'no partition holds a filesystem U-Boot can read (ext2/3/4, FAT, ...): is it damaged or unformatted?';
  return 'U-Boot tried every boot target and stopped at its prompt (see its messages above)';
}
