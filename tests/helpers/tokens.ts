/**
 * Tokens in the tests: an account's primary token row, and looking for tokens where none may
 * be (function log lines, answers, CLI output, log tables).
 */
import type postgres from "postgres";
import { assert } from "./assert.ts";

/** Fails when any of `tokens` appears in a text of `places` (what it is → its texts). */
export function assertNoTokenIn(tokens: Iterable<string>, places: Record<string, string[]>) {
  for (const token of tokens) {
    for (const [what, texts] of Object.entries(places)) {
      const leak = texts.find((t) => t.includes(token));
      assert(
        !leak,
        `a token appeared in a ${what}: ${leak?.replace(token, "<TOKEN>").slice(0, 300)}`,
      );
    }
  }
}

/** The free text of the log tables: run and step messages and metadata, token rejections. */
export async function logTablesText(sql: postgres.Sql): Promise<string> {
  const [{ text }] = await sql`select concat_ws(' ',
      (select string_agg(concat_ws(' ', error_message, metadata::text), ' ') from public.sync_logs),
      (select string_agg(concat_ws(' ', error_message, metadata::text), ' ') from public.system_job_logs),
      (select string_agg(rejected_reason, ' ') from public.workspace_threads_tokens)) as text`;
  return text;
}

/** The account's primary token row (the one its syncs use), or undefined. */
export async function primaryToken(sql: postgres.Sql, accountId: string) {
  const [row] = await sql`select * from public.workspace_threads_tokens
    where workspace_threads_account_id = ${accountId} and is_primary and revoked_at is null`;
  return row;
}
