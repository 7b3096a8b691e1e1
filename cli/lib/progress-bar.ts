/**
 * Live progress on one line. On a terminal the line is redrawn in place (a bar, or a spinner
 * while nothing can be counted); anywhere else (a pipe, a CI log) a line is printed only when
 * its text changes, so a log gets one line per step, not one per poll.
 */

/** `[#######.......]` with `done` of `total` filled; a total of 0 shows an empty bar. */
export function progressBar(done: number, total: number, width = 24): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(ratio * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

export const SPINNER_FRAMES = ["|", "/", "-", "\\"];

interface Sink {
  writeSync(bytes: Uint8Array): number;
  isTerminal(): boolean;
}

const encoder = new TextEncoder();

export class LiveLine {
  #last = "";
  #drawn = false;
  readonly #out: Sink;
  readonly interactive: boolean;

  constructor(out: Sink = Deno.stdout) {
    this.#out = out;
    this.interactive = out.isTerminal();
  }

  /**
   * Shows `text`. On a terminal it replaces the current line (`\r`, clear to end of line);
   * elsewhere `stable` (default `text`: the part without timers or spinners) is printed as a
   * new line when it differs from the last one printed.
   */
  update(text: string, stable = text): void {
    if (this.interactive) {
      this.#write(`\r\x1b[2K${text}`);
      this.#drawn = true;
    } else if (stable !== this.#last) {
      this.#write(`${stable}\n`);
      this.#last = stable;
    }
  }

  /** Ends the live line, so what follows starts on a fresh line. */
  done(): void {
    if (this.interactive && this.#drawn) this.#write("\n");
    this.#drawn = false;
  }

  #write(text: string) {
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += this.#out.writeSync(bytes.subarray(written));
  }
}

/**
 * Shows `text` with a spinner and the elapsed seconds until `work` settles (on a terminal; a
 * single line elsewhere), then ends the line and returns what `work` gave.
 */
export async function withSpinner<T>(live: LiveLine, text: string, work: Promise<T>): Promise<T> {
  const started = Date.now();
  let frame = 0;
  const draw = () => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    live.update(`${SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length]} ${text} ${seconds}s`, text);
  };
  draw();
  const timer = live.interactive ? setInterval(draw, 120) : undefined;
  try {
    return await work;
  } finally {
    clearInterval(timer);
    live.done();
  }
}
