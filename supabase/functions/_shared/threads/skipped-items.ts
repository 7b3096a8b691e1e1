/**
 * Items of an API answer the client leaves out because the database could not store them (a
 * media type in lower case, a negative count, a 100-digit id): one odd item must not fail the
 * whole step on every run. The client collects them; each step puts them in its sync_logs
 * metadata, so an operator sees what was left out and why.
 */

export interface SkippedItem {
  /** Which item: "post 1790…", "insights of post 1790…", "account insights". */
  item: string;
  /** Why, as "<field> must be <constraint>: current value is <v>". */
  reason: string;
}

export interface SkipReport {
  items: SkippedItem[];
  /** Set when a listing stopped at its page limit, saying so. */
  listingStopped?: string;
}

/** Reasons kept per step: enough to diagnose, small enough for a metadata column. */
export const MAX_REASONS_KEPT = 10;

/** The step metadata for a report: nothing when nothing was left out. */
export function skipDetail(report: SkipReport): Record<string, unknown> {
  const detail: Record<string, unknown> = {};
  if (report.items.length > 0) {
    detail.skipped = report.items.length;
    detail.skipped_items = report.items.slice(0, MAX_REASONS_KEPT);
  }
  if (report.listingStopped) detail.listing_stopped = report.listingStopped;
  return detail;
}
