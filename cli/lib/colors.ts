/**
 * Terminal colours for the operator commands: on when the stream is a terminal and NO_COLOR
 * is unset or empty (https://no-color.org), off otherwise, so piped output and scripts get
 * plain text.
 */

export interface Palette {
  enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;
const plain = (text: string) => text;

export function palette(enabled: boolean): Palette {
  if (!enabled) {
    return {
      enabled,
      bold: plain,
      dim: plain,
      red: plain,
      green: plain,
      yellow: plain,
      cyan: plain,
    };
  }
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  };
}

/** Whether to colour what goes to `stream`. */
export function colorEnabled(
  stream: { isTerminal(): boolean } = Deno.stdout,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): boolean {
  return stream.isTerminal() && !env.NO_COLOR;
}

/** The colour of a run or account status: green done, yellow partly, red failed. */
export function statusColor(p: Palette, status: string): (text: string) => string {
  switch (status) {
    case "completed":
      return p.green;
    case "partial":
      return p.yellow;
    case "failed":
      return p.red;
    case "running":
    case "in_progress":
    case "pending":
      return p.cyan;
    default:
      return p.dim;
  }
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** The text without colour codes. */
export const stripAnsi = (text: string) => text.replace(ANSI, "");
