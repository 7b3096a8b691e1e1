/**
 * The post endpoints of graph.threads.net in the simulator: one post, and
 * the posts list (newest first, opaque cursors, `paging.next` only when more remain), with the
 * empty-pages and duplicate-items faults.
 */
import { errors, type GraphAnswer, graphTime } from "./graph-responses.ts";
import { type EndpointContext, findRule, ok, pick, requestedFields } from "./endpoint-context.ts";
import type { Post } from "./world-model.ts";

const THREADS_EPOCH_S = 1688540400;

// Every documented field is accepted; the ones the simulator does not model are omitted,
// as the API omits fields that do not apply.
const POST_FIELDS = new Set(
  ("id media_product_type media_type media_url permalink owner username text timestamp " +
    "shortcode thumbnail_url children is_quote_post quoted_post reposted_post alt_text " +
    "link_attachment_url gif_url poll_attachment topic_tag is_spoiler_media text_entities " +
    "text_attachment ghost_post_status ghost_post_expiration_timestamp is_verified " +
    "profile_picture_url has_replies reply_audience").split(" "),
);

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
