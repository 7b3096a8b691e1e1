/**
 * The metrics-write benchmark's workload (bench/metrics-write.ts): its sizes, the metric values
 * of each post at each capture, and the scratch workspaces it writes under.
 */
import type postgres from "postgres";

/** 20 accounts x 100 posts: a batch is one account's posts, as in the sync. */
export const ACCOUNTS = 20;
export const POSTS_PER_ACCOUNT = 100;
export const CAPTURES = 50;
/** The row-by-row baseline writes a tenth of the rows (2 accounts). */
export const NAIVE_ACCOUNTS = 2;
/** Captures of unchanged values for the steady-state row. */
export const UNCHANGED_CAPTURES = 10;
const CAPTURE_EVERY_MS = 15 * 60 * 1000;

export type Metrics = {
  threads_post_id: string;
  views: number;
  likes: number;
  replies: number;
  reposts: number;
  quotes: number;
  shares: number;
};

/** Values for post `p` at capture `c`: views grow every capture, the rest now and then. */
export function metricsAt(postId: string, p: number, c: number): Metrics {
  return {
    threads_post_id: postId,
    views: 100 + p + c * (1 + (p % 7)),
    likes: 10 + Math.floor(c / 3) + (p % 5),
    replies: Math.floor(c / 10),
    reposts: Math.floor(c / 25),
    quotes: 0,
    shares: Math.floor(c / 5),
  };
}

/** Capture times: CAPTURES + UNCHANGED_CAPTURES quarter-hours ending an hour ago (never future). */
export function captureTime(c: number): string {
  const last = Date.now() - 60 * 60 * 1000;
  return new Date(last - (CAPTURES + UNCHANGED_CAPTURES - c) * CAPTURE_EVERY_MS).toISOString();
}

export type Scratch = {
  workspaceId: string;
  accounts: { id: string; posts: { id: string; tid: string }[] }[];
};

/** A scratch workspace with `accounts` accounts of POSTS_PER_ACCOUNT posts each. */
export async function createScratch(
  sql: postgres.Sql,
  label: string,
  accounts: number,
): Promise<Scratch> {
  const [{ id: workspaceId }] = await sql<{ id: string }[]>`
    insert into public.workspaces (name) values (${`bench:metrics-write:${label}`}) returning id`;
  const scratch: Scratch = { workspaceId, accounts: [] };
  for (let a = 0; a < accounts; a++) {
    const [{ id }] = await sql<{ id: string }[]>`
      insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username)
      values (${workspaceId}, ${`9${a}`}, ${`bench_${label}_${a}`}) returning id`;
    const posts = Array.from({ length: POSTS_PER_ACCOUNT }, (_, i) => ({
      threads_post_id: `${label}${a}x${i}`,
      media_type: "TEXT_POST",
      text: `bench post ${i}`,
    }));
    await sql`select public.upsert_posts(${id}, ${sql.json(posts)})`;
    const rows = await sql<{ id: string; tid: string }[]>`
      select id, threads_post_id as tid from public.workspace_threads_posts
      where workspace_threads_account_id = ${id} order by threads_post_id`;
    scratch.accounts.push({ id, posts: rows });
  }
  return scratch;
}

/** Bytes of L1 + L2, tables and indexes. */
export async function layerBytes(sql: postgres.Sql): Promise<number> {
  const [{ bytes }] = await sql<{ bytes: string }[]>`
    select pg_total_relation_size('public.workspace_threads_post_metrics')
         + pg_total_relation_size('public.workspace_threads_post_metrics_deltas') as bytes`;
  return Number(bytes);
}
