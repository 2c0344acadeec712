/**
 * Shell-prompt detection on a guest console, the one implementation every front end uses: the
 * CLI's piped input (a line is typed once the shell prompts), `--save-on-exit` (save once the
 * guest is back at its prompt), the browser's "prompt reached" timing.
 *
 * A prompt is output ending in "# " or "$ " once terminal control sequences are removed, or a
 * login prompt ("login: ", "Password: ": getty and login on a full distribution's console wait
 * for a line as a shell does, so piped input answers them in turn): shells
 * may follow the prompt with a query (busybox ash sends ESC[6n, the cursor position), which the
 * test ignores. Only the last TAIL characters are kept, so a guest printing without end costs a
 * bounded amount of memory and decoding per chunk.
 */

/** "... # ", "... $ ", "host login: " or "Password: " at the end of the output. */
const PROMPT = /(?:[#$]|\blogin:|\b[Pp]assword:) $/;
/** Terminal control sequences (CSI ... letter) a shell may print after its prompt. */
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;
/** Output characters kept to look for a prompt. */
export const PROMPT_TAIL = 64;
const LATIN1 = new TextDecoder('latin1');

/** Whether text (the end of a console's output) ends in a shell prompt. */
export function endsInPrompt(text: string): boolean {
  return PROMPT.test(text.replace(ESCAPES, ''));
}

/** Follows a console's output and says whether it currently ends in a shell prompt. */
export class PromptWatch {
  private tail = '';

  /** Feeds output; returns whether the output now ends in a prompt. */
  feed(bytes: Uint8Array): boolean {
    // Only the tail matters for the prompt: decode no more than it keeps.
    this.tail = (this.tail + LATIN1.decode(bytes.subarray(Math.max(0, bytes.length - PROMPT_TAIL)))).slice(
      -PROMPT_TAIL,
    );
    return this.atPrompt;
  }

  get atPrompt(): boolean {
    return endsInPrompt(this.tail);
  }

  /** Forgets the output seen so far (a reboot, a line typed). */
  reset(): void {
    this.tail = '';
  }
}
