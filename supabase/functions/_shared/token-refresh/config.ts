/**
 * token-refresh's own setting, read once from the environment with zod like platform/config.ts:
 *
 *   TOKEN_REFRESH_WINDOW_DAYS (15)  refresh primary tokens that expire within this many days.
 *                                   A long-lived token lasts 60 days and is refreshable from
 *                                   24 hours of age, so 1..59 are meaningful; 15 gives each
 *                                   token about 15 daily attempts before it expires, and keeps
 *                                   a token from being refreshed more than once every 45 days.
 */
import { z } from "zod";

export const tokenRefreshConfigSchema = z.object({
  TOKEN_REFRESH_WINDOW_DAYS: z.coerce.number({
    error: "TOKEN_REFRESH_WINDOW_DAYS must be a number",
  })
    .int("TOKEN_REFRESH_WINDOW_DAYS must be an integer")
    .min(1, "TOKEN_REFRESH_WINDOW_DAYS must be at least 1")
    .max(59, "TOKEN_REFRESH_WINDOW_DAYS must be at most 59 (a token lives 60 days)")
    .default(15),
});

export type TokenRefreshConfig = Readonly<z.infer<typeof tokenRefreshConfigSchema>>;

/** Validates `env`; throws one error naming every bad variable. */
export function loadTokenRefreshConfig(
  env: Record<string, string | undefined>,
): TokenRefreshConfig {
  const parsed = tokenRefreshConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `- ${issue.message}`).join("\n");
    throw new Error(`Cannot start as the configuration is invalid:\n${problems}`);
  }
  return Object.freeze(parsed.data);
}
