/**
 * The read endpoints of graph.threads.net, answered from the simulated world with the shapes
 * of threads-api.md §2-§6: the profile, one post, the posts list (newest first, opaque
 * cursors, `paging.next` only when more remain), post insights, user insights, the
 * publishing limit and the token refresh. The request has already passed authentication and
 * the fault rules (graph-api.ts); these handlers only apply the shaping faults (empty pages,
 * duplicates, omitted metrics).
 */
import type { FaultRule } from "./faults.ts";
import { errors, type GraphAnswer, graphError, graphTime } from "./graph-responses.ts";
import {
  dailyValue,
  followersCount,
  linkClicks,
  pacificDayEnds,
  POST_METRIC_NAMES,
  postMetrics,
  USER_METRIC_NAMES,
} from "./insights-model.ts";
import type { SimulatorState } from "./state.ts";
import { type Account, DAY, HOUR, type Post, type TokenRecord } from "./world.ts";

export interface EndpointContext {
  state: SimulatorState;
  url: URL;
  account: Account;
  token: TokenRecord;
  now: number;
  faults: FaultRule[];
  fire(rule: FaultRule): void;
}

const THREADS_EPOCH_S = 1688540400;
const USER_INSIGHTS_EPOCH_S = 1712991600;

const PROFILE_FIELDS = new Set([
  "id",
  "username",
  "name",
  "threads_profile_picture_url",
  "threads_biography",
  "is_verified",
  "recently_searched_keywords",
]);

// Every documented field is accepted; the ones the simulator does not model are omitted,
// as the API omits fields that do not apply.
const POST_FIELDS = new Set(
  ("id media_product_type media_type media_url permalink owner username text timestamp " +
    "shortcode thumbnail_url children is_quote_post quoted_post reposted_post alt_text " +
    "link_attachment_url gif_url poll_attachment topic_tag is_spoiler_media text_entities " +
    "text_attachment ghost_post_status ghost_post_expiration_timestamp is_verified " +
    "profile_picture_url has_replies reply_audience").split(" "),
);

const ok = (body: unknown): GraphAnswer => ({ status: 200, body });

function findRule<K extends FaultRule["kind"]>(ctx: EndpointContext, kind: K) {
  return ctx.faults.find((f) => f.kind === kind) as FaultRule<K> | undefined;
}

/** `fields=a,b` checked against the node's known fields; default `id`. */
function requestedFields(
  ctx: EndpointContext,
  known: Set<string>,
  nodeType: string,
): string[] | GraphAnswer {
  const fields = (ctx.url.searchParams.get("fields") ?? "id").split(",").map((f) => f.trim())
    .filter(Boolean);
  const unknown = fields.find((f) => !known.has(f));
  if (unknown) {
    return errors.invalidParameter(
      `Tried accessing nonexisting field (${unknown}) on node type (${nodeType})`,
    );
  }
  return fields.includes("id") ? fields : ["id", ...fields];
}

function pick(full: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (full[f] !== undefined) out[f] = full[f];
  return out;
}

export function profile(ctx: EndpointContext): GraphAnswer {
  const fields = requestedFields(ctx, PROFILE_FIELDS, "ThreadsUser");
  if (!Array.isArray(fields)) return fields;
  const a = ctx.account;
  return ok(pick({
    id: a.id,
    username: a.username,
    name: a.name,
    threads_profile_picture_url: `https://scontent.example.com/profile/${a.id}.jpg`,
    threads_biography: a.biography,
    is_verified: a.verified,
  }, fields));
}

function postObject(post: Post): Record<string, unknown> {
  const repost = post.mediaType === "REPOST_FACADE";
  const media = post.mediaType === "IMAGE" || post.mediaType === "VIDEO" ||
    post.mediaType === "CAROUSEL_ALBUM";
  return {
    id: post.id,
    media_product_type: "THREADS",
    media_type: post.mediaType,
    media_url: media ? `https://scontent.example.com/media/${post.id}.jpg` : undefined,
    permalink: post.hasPermalink
      ? `https://www.threads.com/@${post.account.username}/post/${post.shortcode}`
      : undefined,
    owner: repost ? undefined : { id: post.account.id },
    username: post.account.username,
    text: repost ? undefined : post.text,
    timestamp: graphTime(post.publishedAt),
    shortcode: post.shortcode,
    thumbnail_url: post.mediaType === "VIDEO"
      ? `https://scontent.example.com/thumb/${post.id}.jpg`
      : undefined,
    children: post.mediaType === "CAROUSEL_ALBUM"
      ? { data: [1, 2, 3].map((i) => ({ id: `19${post.id.slice(2, 16)}${i}` })) }
      : undefined,
    is_quote_post: post.isQuotePost,
    topic_tag: post.topicTag,
    is_verified: post.account.verified,
    reply_audience: "EVERYONE",
  };
}

/** `GET /{media-id}`: one of the token owner's posts. */
export function singlePost(ctx: EndpointContext, mediaId: string): GraphAnswer {
  const post = ctx.state.world.postById(mediaId);
  if (!post || post.account !== ctx.account || post.publishedAt > ctx.now) {
    return errors.objectMissing(mediaId);
  }
  const fields = requestedFields(ctx, POST_FIELDS, "ThreadsMedia");
  return Array.isArray(fields) ? ok(pick(postObject(post), fields)) : fields;
}

/** Unix seconds or anything Date.parse reads (the API takes strtotime() strings). */
function timeParam(value: string | null): number | undefined | "invalid" {
  if (value === null || value === "") return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? "invalid" : ms;
}

interface Cursor {
  /** Ordinal of the item the page ends (after) or starts (before) at; null: the top. */
  o: number | null;
  /** Set when the empty page of the empty-pages fault was already served for this position. */
  e?: 1;
}

const encodeCursor = (c: Cursor) =>
  btoa(JSON.stringify(c)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function decodeCursor(text: string): Cursor | undefined {
  try {
    const c = JSON.parse(atob(text.replace(/-/g, "+").replace(/_/g, "/")));
    return c && (c.o === null || Number.isInteger(c.o)) ? c : undefined;
  } catch {
    return undefined;
  }
}

function pageUrl(ctx: EndpointContext, set: Record<string, string>, drop: string): string {
  const url = new URL(ctx.url);
  url.searchParams.delete(drop);
  for (const [k, v] of Object.entries(set)) url.searchParams.set(k, v);
  return url.toString();
}

/** `GET /{user}/threads`: newest first, `limit` 25 by default and 100 at most. */
export function threadsList(ctx: EndpointContext): GraphAnswer {
  const params = ctx.url.searchParams;
  const fields = requestedFields(ctx, POST_FIELDS, "ThreadsMedia");
  if (!Array.isArray(fields)) return fields;
  const limitText = params.get("limit");
  if (limitText !== null && !/^\d+$/.test(limitText)) {
    return errors.invalidParameter("limit must be a non-negative integer");
  }
  const limit = Math.min(100, Number(limitText ?? 25) || 25);
  const since = timeParam(params.get("since"));
  const until = timeParam(params.get("until"));
  if (since === "invalid" || until === "invalid") {
    return errors.invalidParameter("since and until must be unix timestamps or dates");
  }
  if (since !== undefined && since < THREADS_EPOCH_S * 1000) {
    return errors.invalidParameter(`since must be on or after ${THREADS_EPOCH_S}`);
  }
  if (since !== undefined && until !== undefined && since >= until) {
    return errors.invalidParameter("since must be earlier than until");
  }
  const afterText = params.get("after");
  const beforeText = params.get("before");
  if (afterText && beforeText) {
    return errors.invalidParameter(
      "Both before and after parameters cannot be passed at the same time",
    );
  }
  const cursorText = afterText ?? beforeText;
  const cursor = cursorText ? decodeCursor(cursorText) : undefined;
  if (cursorText && !cursor) return errors.invalidParameter("The cursor is invalid");

  const emptyPages = findRule(ctx, "empty_pages");
  if (emptyPages && !beforeText && !cursor?.e) {
    ctx.fire(emptyPages);
    const at = encodeCursor({ o: cursor?.o ?? null, e: 1 });
    return ok({ data: [], paging: { cursors: {}, next: pageUrl(ctx, { after: at }, "before") } });
  }

  const query = { sinceMs: since, untilMs: until, nowMs: ctx.now };
  let posts: Post[];
  let more: boolean;
  if (beforeText && cursor) {
    // The page just newer than the cursor: walk from the top and keep the last `limit`.
    const all = ctx.state.world.listPosts(ctx.account, { ...query, limit: Number.MAX_SAFE_INTEGER })
      .posts.filter((p) => cursor.o === null || p.ordinal > cursor.o);
    posts = all.slice(-limit);
    more = true;
  } else {
    const beforeOrdinal = cursor?.o ?? undefined;
    ({ posts, more } = ctx.state.world.listPosts(ctx.account, { ...query, beforeOrdinal, limit }));
  }
  if (posts.length === 0 && !cursor) return ok({ data: [] });

  const paging: Record<string, unknown> = {};
  if (posts.length > 0) {
    paging.cursors = {
      before: encodeCursor({ o: posts[0].ordinal }),
      after: encodeCursor({ o: posts[posts.length - 1].ordinal }),
    };
  }
  if (more && posts.length > 0) {
    const duplicate = findRule(ctx, "duplicate_items");
    let last = posts[posts.length - 1].ordinal;
    if (duplicate) {
      // The next page starts with this page's last post again.
      ctx.fire(duplicate);
      last += 1;
    }
    paging.next = pageUrl(ctx, { after: encodeCursor({ o: last }) }, "before");
  }
  if (cursor && posts.length > 0) {
    paging.previous = pageUrl(ctx, { before: encodeCursor({ o: posts[0].ordinal }) }, "after");
  }
  return ok({ data: posts.map((p) => pick(postObject(p), fields)), paging });
}

/** The `metric` list, checked against what the endpoint supports. */
function metricsParam(ctx: EndpointContext, allowed: readonly string[]): string[] | GraphAnswer {
  const text = ctx.url.searchParams.get("metric");
  if (!text) return errors.invalidParameter("The parameter metric is required");
  const metrics = text.split(",").map((m) => m.trim()).filter(Boolean);
  const bad = metrics.findIndex((m) => !allowed.includes(m));
  if (bad >= 0) {
    return errors.invalidParameter(
      `metric[${bad}] must be one of the following values: ${allowed.join(", ")}`,
    );
  }
  return metrics;
}

function omitted(ctx: EndpointContext): Set<string> {
  const rule = findRule(ctx, "omit_metrics");
  if (!rule) return new Set();
  ctx.fire(rule);
  return new Set(rule.metrics);
}

const title = (name: string) => name[0].toUpperCase() + name.slice(1);

/** `GET /{media-id}/insights`: lifetime values; `{"data": []}` when there are none yet. */
export function postInsights(ctx: EndpointContext, mediaId: string): GraphAnswer {
  const post = ctx.state.world.postById(mediaId);
  if (!post || post.account !== ctx.account || post.publishedAt > ctx.now) {
    return errors.objectMissing(mediaId);
  }
  const metrics = metricsParam(ctx, POST_METRIC_NAMES);
  if (!Array.isArray(metrics)) return metrics;
  const values = postMetrics(ctx.state.world.seed, post, ctx.now);
  if (!values) return ok({ data: [] });
  const skip = omitted(ctx);
  return ok({
    data: metrics.filter((m) => !skip.has(m)).map((name) => ({
      name,
      period: "lifetime",
      values: [{ value: values[name as keyof typeof values] }],
      title: title(name),
      description: `The number of ${name} on your post.`,
      // The official collection names the replies entry thread_replies: key on `name`.
      id: `${post.id}/insights/${name === "replies" ? "thread_replies" : name}/lifetime`,
    })),
  });
}

/** `GET /{user}/threads_insights`: per-day views, window totals, current followers. */
export function userInsights(ctx: EndpointContext): GraphAnswer {
  const metrics = metricsParam(ctx, USER_METRIC_NAMES);
  if (!Array.isArray(metrics)) return metrics;
  const params = ctx.url.searchParams;
  const sinceText = params.get("since");
  const untilText = params.get("until");
  if ((sinceText && !/^\d+$/.test(sinceText)) || (untilText && !/^\d+$/.test(untilText))) {
    return errors.invalidParameter("since and until must be unix timestamps");
  }
  // Default window: yesterday through today.
  const since = sinceText ? Number(sinceText) * 1000 : ctx.now - DAY;
  const until = Math.min(untilText ? Number(untilText) * 1000 : ctx.now, ctx.now);
  if (since < USER_INSIGHTS_EPOCH_S * 1000) {
    return errors.invalidParameter(
      `since must be a unix timestamp on or after ${USER_INSIGHTS_EPOCH_S}`,
    );
  }
  if (since >= until) return errors.invalidParameter("since must be earlier than until");
  const { seed, genesisMs } = ctx.state.world;
  const account = ctx.account;
  const followers = followersCount(seed, account, genesisMs, ctx.now);
  if (metrics.includes("follower_demographics")) {
    const breakdown = params.get("breakdown");
    if (!breakdown || !["country", "city", "age", "gender"].includes(breakdown)) {
      return graphError({
        status: 400,
        code: 100,
        subcode: 4279040,
        message:
          "(#100) follower_demographics requires one breakdown: country, city, age or gender",
      });
    }
    if (followers < 100) {
      return errors.invalidParameter("follower_demographics needs at least 100 followers");
    }
  }
  const dayEnds = pacificDayEnds(since, until);
  const sum = (metric: string) =>
    dayEnds.reduce((total, end) => total + dailyValue(seed, account, metric, end), 0);
  const skip = omitted(ctx);
  const entry = (name: string, value: Record<string, unknown>) => ({
    name,
    period: "day",
    ...value,
    title: name,
    description: `The ${name.replace("_", " ")} of your profile.`,
    id: `${account.id}/insights/${name}/day`,
  });
  const data = metrics.filter((m) => !skip.has(m)).map((name) => {
    switch (name) {
      case "views":
        return entry(name, {
          // Quiet days are left out, as the API does.
          values: dayEnds.map((end) => ({ value: dailyValue(seed, account, name, end), end }))
            .filter((v) => v.value > 0)
            .map((v) => ({ value: v.value, end_time: graphTime(v.end) })),
        });
      case "clicks":
        return entry(name, { link_total_values: linkClicks(seed, account, dayEnds) });
      case "followers_count":
        return entry(name, { total_value: { value: followers } });
      case "follower_demographics":
        return entry(name, {
          total_value: {
            breakdowns: [{
              dimension_keys: [params.get("breakdown")],
              results: [{ dimension_values: ["other"], value: followers }],
            }],
          },
        });
      default:
        return entry(name, { total_value: { value: sum(name) } });
    }
  });
  return ok({ data });
}

export function publishingLimit(): GraphAnswer {
  return ok({
    data: [{ quota_usage: 0, config: { quota_total: 250, quota_duration: 86400 } }],
  });
}

/** `GET /refresh_access_token?grant_type=th_refresh_token`: a new 60-day token. */
export function refreshToken(ctx: EndpointContext): GraphAnswer {
  if (ctx.url.searchParams.get("grant_type") !== "th_refresh_token") {
    return errors.invalidParameter("grant_type must be th_refresh_token");
  }
  // Tokens younger than 24 h cannot be refreshed; the API's answer is undocumented.
  if (ctx.now - ctx.token.issuedAt < 24 * HOUR && ctx.state.youngTokenRefresh === "error") {
    return errors.invalidParameter(
      "The access token must be at least 24 hours old to be refreshed",
    );
  }
  const fresh = ctx.state.world.refreshToken(ctx.account, ctx.now, ctx.state.revokeOnRefresh);
  ctx.state.persist();
  return ok({
    access_token: fresh.token,
    token_type: "bearer",
    expires_in: Math.floor((fresh.expiresAt - ctx.now) / 1000),
  });
}
