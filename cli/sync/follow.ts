/**
 * Following a run in the database while it works: run_progress(run_id) and the run's row in
 * system_job_logs, polled every 300 ms, drawn as a progress bar (accounts done of total,
 * failures so far) until the run leaves 'running'.
 *
 * Three ways out besides the run ending: the caller's signal (Ctrl-C: the run goes on, only
 * the following stops), a run that never shows up (the database given is not the project's),
 * and a run whose heartbeat stopped (its worker is gone; the next scheduled trigger resumes
 * it, see find_stale_runs).
 */
import type postgres from "postgres";
import type { Palette } from "../lib/colors.ts";
import { type LiveLine, progressBar, SPINNER_FRAMES } from "../lib/progress-bar.ts";
import { formatDuration } from "../lib/time.ts";

export const POLL_MS = 300;
/** As find_stale_runs' default: a run without a heartbeat for this long has no worker. */
export const STALLED_AFTER_MS = 10 * 60_000;
/** How long a run the function announced may take to appear in the database. */
const APPEAR_WITHIN_MS = 10_000;

export type FollowOutcome =
  | { kind: "ended"; status: string; errorCode: string | null; errorMessage: string | null }
  | { kind: "detached" }
  | { kind: "stalled"; heartbeatAt: Date };

export interface Progress {
  total: number;
  pending: number;
  inProgress: number;
  completed: number;
  partial: number;
  failed: number;
  skipped: number;
}

/** The progress line: bar, accounts done of total, and the failures so far. */
export function progressLine(p: Progress, palette: Palette): string {
  const done = p.completed + p.partial + p.failed + p.skipped;
  const parts = [`${progressBar(done, p.total)} ${done}/${p.total} accounts`];
  if (p.failed) parts.push(palette.red(`${p.failed} failed`));
  if (p.partial) parts.push(palette.yellow(`${p.partial} partial`));
  if (p.skipped) parts.push(palette.dim(`${p.skipped} skipped`));
  return parts.join(" · ");
}

export async function followRun(
  sql: postgres.Sql,
  runId: string,
  options: { live: LiveLine; palette: Palette; signal: AbortSignal; where: string },
): Promise<FollowOutcome> {
  const { live, palette, signal } = options;
  const started = Date.now();
  let frame = 0;
  try {
    while (true) {
      if (signal.aborted) return { kind: "detached" };
      const [run] = await sql`
        select status, error_code, error_message, heartbeat_at,
          now() - heartbeat_at > ${`${STALLED_AFTER_MS / 1000} seconds`}::interval as stalled
        from public.system_job_logs where id = ${runId}`;
      if (!run) {
        if (Date.now() - started > APPEAR_WITHIN_MS) {
          throw new Error(
            `Cannot follow run ${runId} as it is not in the database ${options.where}: ` +
              "--db-url must be the database of the project the function runs in",
          );
        }
      } else {
        const [r] = await sql`select * from public.run_progress(${runId})`;
        const progress: Progress = {
          total: r.total,
          pending: r.pending,
          inProgress: r.in_progress,
          completed: r.completed,
          partial: r.partial,
          failed: r.failed,
          skipped: r.skipped,
        };
        const elapsed = formatDuration((Date.now() - started) / 1000);
        if (progress.total === 0 && run.status === "running") {
          const text = "starting the run…";
          live.update(
            `${SPINNER_FRAMES[frame++ % SPINNER_FRAMES.length]} ${text} ${elapsed}`,
            text,
          );
        } else {
          const line = progressLine(progress, palette);
          live.update(`${line} · ${elapsed}`, line);
        }
        if (run.status !== "running") {
          return {
            kind: "ended",
            status: run.status,
            errorCode: run.error_code,
            errorMessage: run.error_message,
          };
        }
        if (run.stalled) return { kind: "stalled", heartbeatAt: run.heartbeat_at };
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  } finally {
    live.done();
  }
}
