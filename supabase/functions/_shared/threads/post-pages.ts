/**
 * Paging through an account's posts: `paging.next` is followed until it is absent (a page may
 * be empty and still have one), posts already seen are left out, and each page carries the
 * cursor of the next one so a caller can stop and resume there later. A listing stops, and
 * says so, after `maxPages` pages.
 */
import type { ClientSettings } from "./client-settings.ts";
import { epochSeconds, THREADS_EPOCH_S, toMs } from "./epoch.ts";
import { ThreadsApiError } from "./errors.ts";
import type { ThreadsRequester } from "./requester.ts";
import { parsePostsPage, THREAD_FIELDS, threadsPageSchema, type ThreadsPost } from "./schemas.ts";
import type { SkippedItem } from "./skipped-items.ts";

export interface ListThreadsOptions {
  /** Only posts published at or after this instant (Date or epoch ms). */
  since?: Date | number;
  until?: Date | number;
  /** Defaults to `me`. */
  userId?: string;
  /** Resume paging at this cursor (one a page before carried as `nextCursor`). */
  after?: string;
}

/** One page of posts and the cursor of the page after it (undefined on the last page). */
export interface ThreadsPage {
  posts: ThreadsPost[];
  nextCursor?: string;
}

/** Where a listing reports what it left out, and that it stopped at its page limit. */
export interface ListingReport {
  skipped(items: SkippedItem[], endpoint: string): void;
  stopped(why: string, endpoint: string): void;
  /** Counts each page read. */
  page(): void;
}

export async function* postPages(
  http: ThreadsRequester,
  settings: ClientSettings,
  report: ListingReport,
  options: ListThreadsOptions,
): AsyncGenerator<ThreadsPage> {
  const userId = http.checkId(options.userId ?? "me", "list the account's threads");
  const sinceS = options.since === undefined
    ? undefined
    : epochSeconds(toMs(options.since), THREADS_EPOCH_S);
  const params: Record<string, string> = {
    fields: THREAD_FIELDS,
    limit: String(settings.pageSize),
  };
  if (sinceS !== undefined) params.since = String(sinceS);
  if (options.until !== undefined) params.until = String(epochSeconds(toMs(options.until)));
  const seen = new Set<string>();
  let after = options.after;
  for (let page = 1;; page++) {
    const target = http.target(`/${userId}/threads`, after ? { ...params, after } : params);
    if (page > settings.maxPages) {
      // Stopped, not failed: what was read is kept, and the step's metadata says so.
      report.stopped(
        `the listing stopped after ${settings.maxPages} pages ` +
          `(MAX_PAGES_PER_LISTING); posts beyond them were not read`,
        target.endpoint,
      );
      return;
    }
    const action = `list the account's threads (page ${page})`;
    const body = await http.call({ action, ...target, schema: threadsPageSchema });
    report.page();
    const { posts, skipped } = parsePostsPage(body.data);
    report.skipped(skipped, target.endpoint);
    const fresh = posts.filter((post) => {
      if (seen.has(post.id)) return false;
      seen.add(post.id);
      // `since` is the API's to apply; this only guards against an API that ignores it
      // (at the API's precision: whole seconds).
      return sinceS === undefined || Date.parse(post.timestamp) >= sinceS * 1000;
    });
    const next = body.paging?.next;
    if (!next) {
      yield { posts: fresh };
      return;
    }
    // Rebuild the next request from our own base URL: `next` carries the token, and we
    // never send it anywhere the configuration did not name.
    const nextAfter = afterCursorOf(next) ?? body.paging?.cursors?.after;
    if (!nextAfter || nextAfter === after) {
      throw http.fail(
        new ThreadsApiError({
          kind: "bad_response",
          endpoint: target.endpoint,
          action,
          reason: nextAfter
            ? "paging.next repeats the cursor of the page it came with"
            : "paging.next carries no after cursor",
        }),
      );
    }
    yield { posts: fresh, nextCursor: nextAfter };
    after = nextAfter;
  }
}

/** The `after` cursor of a `paging.next` URL, which is read and then dropped (it has the token). */
function afterCursorOf(next: string): string | undefined {
  try {
    return new URL(next).searchParams.get("after") ?? undefined;
  } catch {
    return undefined;
  }
}
