/**
 * A function's own bearer secret (CONNECT_ACCOUNT_SECRET, METRICS_SECRET), read once from the
 * environment with zod like config.ts: required, at least 32 bytes (openssl rand -base64 32),
 * and different from every other secret named, so whoever can read one secret gets only what
 * that secret allows.
 */
import { z } from "zod";

const MIN_BYTES = 32;

/**
 * Validates `env[name]` against the rules above; throws one error naming every problem
 * (never a value).
 */
export function loadOwnSecret(
  env: Record<string, string | undefined>,
  name: string,
  others: string[],
): string {
  const schema = z.object({
    [name]: z.string({ error: `${name} is required` }).refine(
      (value) => new TextEncoder().encode(value).length >= MIN_BYTES,
      `${name} must be at least ${MIN_BYTES} bytes (openssl rand -base64 32)`,
    ),
    ...Object.fromEntries(others.map((other) => [other, z.string().optional()])),
  }).refine((values) => others.every((other) => values[name] !== values[other]), {
    message: `${name} must differ from ${others.join(" and ")}`,
  });
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `- ${issue.message}`).join("\n");
    throw new Error(`Cannot start as the configuration is invalid:\n${problems}`);
  }
  return parsed.data[name] as string;
}
