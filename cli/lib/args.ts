/**
 * Command-line arguments of the operator commands: node:util parseArgs in strict mode, with
 * every mistake turned into a UsageError (exit status 2, the usage printed), and the checks
 * the flags share (a positive integer, a UUID).
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
