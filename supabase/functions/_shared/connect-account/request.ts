/**
 * connect-account's request body (handler.ts has the contract): a connect names a workspace
 * and a token, a disconnect an account; every mistake names its field. Also the token's
 * expiry as the request gives it.
 */
import { z } from "zod";

const DAY_MS = 86_400_000;
/** A long-lived Threads token's lifetime: 60 days from its issue or last refresh. */
export const LONG_LIVED_TOKEN_MS = 60 * DAY_MS;
/** An expiry further out than this is a mistake (milliseconds given as seconds, say). */
const MAX_EXPIRY_MS = 61 * DAY_MS;

export const connectAccountRequestSchema = z.strictObject({
  workspaceId: z.uuid({ error: "must be a UUID" }).optional(),
  accessToken: z.string({ error: "must be a string" }).min(16, "must be a Threads access token")
    .max(4096, "must be at most 4096 characters").regex(/^\S+$/, "must not contain spaces")
    .optional(),
  expiresAt: z.iso.datetime({
    offset: true,
    error: "must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z",
  }).optional(),
  expiresInSeconds: z.number({ error: "must be a number" }).int("must be an integer")
    .min(1, "must be at least 1")
    .max(LONG_LIVED_TOKEN_MS / 1000, "must be at most 5184000 (60 days, a long-lived token)")
    .optional(),
  accountId: z.uuid({ error: "must be a UUID" }).optional(),
  deactivate: z.literal(true, { error: "must be true" }).optional(),
}, { error: "must be a JSON object" }).superRefine((body, ctx) => {
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  if (body.deactivate) {
    if (!body.accountId) issue("accountId", "is required with deactivate");
    for (const key of ["workspaceId", "accessToken", "expiresAt", "expiresInSeconds"] as const) {
      if (body[key] !== undefined) issue(key, "cannot be combined with deactivate");
    }
    return;
  }
  if (body.accountId) issue("accountId", "is only used with deactivate: true");
  if (!body.workspaceId) issue("workspaceId", "is required");
  if (!body.accessToken) issue("accessToken", "is required");
  if (body.expiresAt !== undefined && body.expiresInSeconds !== undefined) {
    issue("expiresInSeconds", "cannot be combined with expiresAt");
  }
});

export type ConnectAccountRequest = z.infer<typeof connectAccountRequestSchema>;

export type Expiry =
  | { at: Date; assumed: boolean; error?: undefined }
  | { error: "expired" | "too_far"; at?: undefined };

/**
 * The token's expiry from the request, or the reason it cannot be accepted. Without one, the
 * token is taken as a fresh long-lived one (60 days, `assumed`).
 */
export function expiryOf(body: ConnectAccountRequest, now: number): Expiry {
  if (body.expiresAt !== undefined) {
    const at = Date.parse(body.expiresAt);
    if (at <= now) return { error: "expired" };
    if (at > now + MAX_EXPIRY_MS) return { error: "too_far" };
    return { at: new Date(at), assumed: false };
  }
  if (body.expiresInSeconds !== undefined) {
    return { at: new Date(now + body.expiresInSeconds * 1000), assumed: false };
  }
  return { at: new Date(now + LONG_LIVED_TOKEN_MS), assumed: true };
}
