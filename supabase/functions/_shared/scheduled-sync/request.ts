/**
 * The body of a POST to scheduled-sync, validated strictly: unknown keys, wrong types and
 * contradictory options are refused with a 400 naming each problem.
 *
 *   {}                                   a run over every active account (what pg_cron sends)
 *   {"accountIds": ["<uuid>", ...]}      a manual run of these accounts
 *   {"workspaceId": "<uuid>"}            a manual run of one workspace's accounts
 *   {"dryRun": true}                     fetch and compute, write no synced data, answer what would
 *                                        change (the accounts a real run would take, 25 by default)
 *   {"maxAccounts": 10}                  at most this many accounts (a dry run: at most 100)
 *   {"wait": true}                       answer with the run's summary instead of 202 at once
 *   {"runId": "<uuid>"}                  continue that run (sent by the function itself on hand-off)
 *
 * Defaults suit pg_cron (202 at once, well within pg_net's timeout) and a person with curl
 * (`{"wait": true}` to see the summary; a dry run always waits, since its answer is the point).
 */
import { z } from "zod";
import { parseJsonBody } from "../platform/json-body.ts";

/**
 * A dry run calls the API for every account it looks at and answers only when done, inside
 * one invocation: 25 accounts by default keeps the answer quick and readable, 100 at most
 * keeps it within the time budget at the default pace (20 req/s, a few calls per account).
 */
export const DRY_RUN_DEFAULT_ACCOUNTS = 25;
export const DRY_RUN_MAX_ACCOUNTS = 100;

export const syncRequestSchema = z.strictObject({
  accountIds: z.array(z.uuid({ error: "must be a UUID" })).min(1, "must list at least one account")
    .max(1000, "must list at most 1000 accounts").optional(),
  workspaceId: z.uuid({ error: "must be a UUID" }).optional(),
  dryRun: z.boolean({ error: "must be true or false" }).default(false),
  maxAccounts: z.number({ error: "must be a number" }).int("must be an integer")
    .min(1, "must be at least 1").max(100_000, "must be at most 100000").optional(),
  wait: z.boolean({ error: "must be true or false" }).optional(),
  runId: z.uuid({ error: "must be a UUID" }).optional(),
}, { error: "must be a JSON object" }).superRefine((body, ctx) => {
  if (body.accountIds && body.workspaceId) {
    ctx.addIssue({
      code: "custom",
      path: ["workspaceId"],
      message: "cannot be combined with accountIds",
    });
  }
  if (body.dryRun && body.maxAccounts !== undefined && body.maxAccounts > DRY_RUN_MAX_ACCOUNTS) {
    ctx.addIssue({
      code: "custom",
      path: ["maxAccounts"],
      message: `must be at most ${DRY_RUN_MAX_ACCOUNTS} for a dry run`,
    });
  }
  if (body.runId && (body.accountIds || body.workspaceId || body.dryRun || body.maxAccounts)) {
    ctx.addIssue({
      code: "custom",
      path: ["runId"],
      message: "continues an existing run and takes no other option but wait",
    });
  }
});

export type SyncRequest = z.infer<typeof syncRequestSchema>;

export type ParsedSyncRequest =
  | { ok: true; request: SyncRequest & { wait: boolean } }
  | { ok: false; detail: string };

/** Reads and validates a request body; an empty body is `{}`. */
export async function parseSyncRequest(request: Request): Promise<ParsedSyncRequest> {
  const parsed = await parseJsonBody(request, syncRequestSchema);
  if (!parsed.ok) return parsed;
  return { ok: true, request: { ...parsed.data, wait: parsed.data.wait ?? parsed.data.dryRun } };
}
