/**
 * The three ways the metrics-write benchmark writes the same metrics: public.record_post_metrics
 * (what the sync does), row by row (the naive way), and COPY of the L1 rows alone (the ceiling).
 */
import type postgres from "postgres";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CAPTURES, captureTime, type Metrics, metricsAt, type Scratch } from "./workload.ts";

/** record_post_metrics for captures [from, to) of every account; returns snapshots written. */
export async function recordCaptures(
  sql: postgres.Sql,
  s: Scratch,
  from: number,
  to: number,
  changing = true,
) {
  let snapshots = 0;
  let calls = 0;
  for (let c = from; c < to; c++) {
    for (const account of s.accounts) {
      const batch = account.posts.map((post, p) =>
        metricsAt(post.tid, p, changing ? c : CAPTURES - 1)
      );
      const [{ result }] = await sql<{ result: { snapshots: number } }[]>`
        select public.record_post_metrics(${account.id}, ${captureTime(c)}::timestamptz,
          ${sql.json(batch)}) as result`;
      snapshots += result.snapshots;
      calls++;
    }
  }
  return { snapshots, calls };
}

/** The naive way: four round trips per post, one transaction per account batch. */
export async function naiveCaptures(sql: postgres.Sql, s: Scratch) {
  let rows = 0;
  let roundTrips = 0;
  for (let c = 0; c < CAPTURES; c++) {
    const capturedAt = captureTime(c);
    for (const account of s.accounts) {
      await sql.begin(async (tx) => {
        for (const [p, post] of account.posts.entries()) {
          const m = metricsAt(post.tid, p, c);
          const previous = await tx<
            {
              id: string;
              views: string;
              likes: string;
              replies: string;
              reposts: string;
              quotes: string;
              shares: string;
            }[]
          >`
            select id, views, likes, replies, reposts, quotes, shares
            from public.workspace_threads_post_metrics
            where workspace_threads_post_id = ${post.id}
            order by captured_at desc limit 1`;
          const [{ id }] = await tx<{ id: string }[]>`
            insert into public.workspace_threads_post_metrics
              (workspace_threads_post_id, captured_at, views, likes, replies, reposts, quotes, shares)
            values (${post.id}, ${capturedAt}::timestamptz, ${m.views}, ${m.likes}, ${m.replies},
              ${m.reposts}, ${m.quotes}, ${m.shares})
            returning id`;
          const prev = previous[0];
          const delta = (key: keyof typeof prev & keyof Metrics) =>
            prev ? (m[key] as number) - Number(prev[key]) : (m[key] as number);
          await tx`
            insert into public.workspace_threads_post_metrics_deltas
              (snapshot_id, previous_snapshot_id, views, likes, replies, reposts, quotes, shares)
            values (${id}, ${prev ? prev.id : null}, ${delta("views")}, ${delta("likes")},
              ${delta("replies")}, ${delta("reposts")}, ${delta("quotes")}, ${delta("shares")})`;
          await tx`
            update public.workspace_threads_posts
            set current_views = ${m.views}, current_likes = ${m.likes}, current_replies = ${m.replies},
                current_reposts = ${m.reposts}, current_quotes = ${m.quotes}, current_shares = ${m.shares},
                metrics_updated_at = ${capturedAt}::timestamptz, metrics_checked_at = ${capturedAt}::timestamptz
            where id = ${post.id}`;
          rows++;
          roundTrips += 4;
        }
      });
      roundTrips += 2; // begin, commit
    }
  }
  return { rows, roundTrips };
}

/** COPY of the same L1 rows (every capture of every post) in one stream, nothing else. */
export async function copyCaptures(sql: postgres.Sql, s: Scratch) {
  let rows = 0;
  function* lines() {
    for (let c = 0; c < CAPTURES; c++) {
      const capturedAt = captureTime(c);
      const chunk: string[] = [];
      for (const account of s.accounts) {
        for (const [p, post] of account.posts.entries()) {
          const m = metricsAt(post.tid, p, c);
          chunk.push(
            `${post.id}\t${capturedAt}\t${m.views}\t${m.likes}\t${m.replies}\t${m.reposts}\t${m.quotes}\t${m.shares}\n`,
          );
          rows++;
        }
      }
      yield chunk.join("");
    }
  }
  const writable = await sql`
    copy public.workspace_threads_post_metrics
      (workspace_threads_post_id, captured_at, views, likes, replies, reposts, quotes, shares)
    from stdin`.writable();
  await pipeline(Readable.from(lines()), writable);
  return { rows };
}
