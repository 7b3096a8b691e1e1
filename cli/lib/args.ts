/**
 * Command-line arguments of the operator commands: node:util parseArgs in strict mode, with
 * every mistake turned into a UsageError (exit status 2, a hint to --help printed), the checks
 * the flags share (a positive integer, a UUID), and the one way a command starts and exits.
 *
 * The convention every command follows (status, sync, connect-account; a new one does the
 * same, and package.json runs it as `deno run -A cli/<name>.ts`):
 *
 *   cli/<name>.ts   the entry point: its usage text, `parse(args, env)` returning the options
 *                   (with `help`) or throwing UsageError, and `run(options)` returning an exit
 *                   status; it ends with `if (import.meta.main) await exitWith(command)`
 *   cli/<name>/     that command's own parts
 *   cli/lib/        what every command shares: this file, colors.ts (palette, on only on a
 *                   terminal without NO_COLOR), table.ts (renderTable, the one table printer),
 *                   time.ts (ages, durations, --since times), target.ts (the local stack or
 *                   a --db-url / --url), progress-bar.ts
 *
 * A command prints what it found on stdout and what went wrong on stderr; it throws
 * UsageError for a mistake in the command line (exit 2) and any other error for a failure
 * (its message printed, exit 1).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Exit statuses: what a script checks. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake in the command line: the command prints it with its usage and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs, strict, no positionals; errors become UsageErrors with parseArgs' message. */
export function parseCli<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `value` as an integer >= `min`, or a UsageError naming the flag. */
export function intFlag(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be an integer >= ${min}: current value is "${value}"`);
  }
  return n;
}

/** A positive number of seconds (fractions allowed), or a UsageError naming the flag. */
export function secondsFlag(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(
      `${flag} must be a positive number of seconds: current value is "${value}"`,
    );
  }
  return n;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `value` as a UUID (lowercased), or a UsageError naming the flag. */
export function uuidFlag(flag: string, value: string): string {
  if (!UUID.test(value.trim())) {
    throw new UsageError(`${flag} must be a UUID: current value is "${value}"`);
  }
  return value.trim().toLowerCase();
}

/**
 * parseArgs has no optional values: `--watch` alone means `--watch=<fallback>`, and
 * `--watch 10` stays as it is.
 */
export function withOptionalValue(args: string[], flag: string, fallback: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag && (i + 1 >= args.length || args[i + 1].startsWith("-"))) {
      out.push(`${flag}=${fallback}`);
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** An operator command: what `exitWith` runs. */
export interface Command<O extends { help: boolean }> {
  /** The npm script's name: `npm run <name>`. */
  name: string;
  usage: string;
  parse(args: string[], env: Record<string, string | undefined>): O;
  run(options: O): Promise<number>;
}

/**
 * Parses, prints the usage for --help, runs, and maps what went wrong to an exit status: a
 * UsageError (from parsing or from the run, e.g. a missing token read from stdin) to 2 with a
 * hint to --help, anything else to 1 with its message.
 */
export async function runCommand<O extends { help: boolean }>(
  command: Command<O>,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  try {
    const options = command.parse(args, env);
    if (options.help) {
      console.log(command.usage);
      return EXIT_OK;
    }
    return await command.run(options);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\nRun \`npm run ${command.name} -- --help\` for the options.`);
      return EXIT_USAGE;
    }
    console.error((error as Error)?.message ?? String(error));
    return EXIT_FAILED;
  }
}

/** The entry point's last line: runs the command on Deno.args and exits with its status. */
export async function exitWith<O extends { help: boolean }>(command: Command<O>): Promise<never> {
  Deno.exit(await runCommand(command, Deno.args, Deno.env.toObject()));
}
