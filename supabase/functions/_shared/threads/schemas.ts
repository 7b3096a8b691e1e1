/**
 * The shapes of the Threads API answers the sync reads (profile, posts, post and account
 * insights, errors, token refresh), as zod schemas. Only the fields the sync uses are required; everything Meta documents as optional
 * or "omitted when…" is optional here, so a valid answer never fails validation.
 *
 * Insights are turned into plain numbers here, keyed by metric name: a metric the API did not
 * return is `null`, never 0 (posts too new to have insights answer `{"data": []}`).
 *
 * A post is validated on its own, against what the database stores (the checks of
 * workspace_threads_posts), so one post that could not be stored is left out with its reason
 * (skipped-items.ts) instead of failing its page; counts must be non-negative integers.
 */
import { z } from "zod";
import type { SkippedItem } from "./skipped-items.ts";

/** IDs are numeric strings (17 digits); a number would already have lost precision. */
const graphId = z.string().min(1, "must be a non-empty string id");

/** Graph's `2023-10-17T05:42:03+0000`, normalised to ISO 8601 UTC (`…Z`). */
const graphTimestamp = z.string().refine((value) => !Number.isNaN(Date.parse(value)), {
  message: "must be a date-time like 2023-10-17T05:42:03+0000",
}).transform((value) => new Date(value).toISOString());

export const graphErrorBodySchema = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.number().optional(),
    error_subcode: z.number().optional(),
    fbtrace_id: z.string().optional(),
    is_transient: z.boolean().optional(),
  }),
});

export const profileSchema = z.object({
  id: graphId,
  username: z.string(),
  name: z.string().optional(),
  threads_profile_picture_url: z.string().optional(),
  threads_biography: z.string().optional(),
  is_verified: z.boolean().optional(),
});
export type ThreadsProfile = z.infer<typeof profileSchema>;

/** Media ids are what the metrics step asks /{id}/insights for (threads-api.ts checkId). */
const mediaId = z.string().regex(/^\d{1,30}$/, "must be a numeric Graph id of at most 30 digits");

/** Text Postgres can store: no NUL character, no lone UTF-16 surrogate. */
const storableText = z.string().refine(
  (value) => !value.includes("\u0000") && value.isWellFormed(),
  "must be text without NUL characters or broken Unicode",
);

// The shapes of workspace_threads_posts' checks (media_type, permalink).
export const threadsPostSchema = z.object({
  id: mediaId,
  timestamp: graphTimestamp,
  media_product_type: z.string().optional(),
  media_type: z.string().regex(
    /^[A-Z][A-Z0-9_]{0,39}$/,
    "must be upper-case letters, digits and _ (at most 40)",
  ).optional(),
  media_url: z.string().optional(),
  permalink: z.string().regex(/^https?:\/\/\S/, "must be an http(s) URL").optional(),
  owner: z.object({ id: graphId }).optional(),
  username: z.string().optional(),
  text: storableText.optional(),
  shortcode: storableText.optional(),
  thumbnail_url: z.string().optional(),
  is_quote_post: z.boolean().optional(),
  topic_tag: z.string().optional(),
  children: z.object({ data: z.array(z.object({ id: graphId })) }).optional(),
});
export type ThreadsPost = z.infer<typeof threadsPostSchema>;

const pagingSchema = z.object({
  cursors: z.object({ before: z.string().optional(), after: z.string().optional() }).optional(),
  next: z.string().optional(),
  previous: z.string().optional(),
});

/** A page; its posts are checked one by one (parsePostsPage). */
export const threadsPageSchema = z.object({
  data: z.array(z.unknown()),
  paging: pagingSchema.optional(),
});

/** The page's posts that can be stored, and the others with the reason. */
export function parsePostsPage(data: unknown[]): { posts: ThreadsPost[]; skipped: SkippedItem[] } {
  const posts: ThreadsPost[] = [];
  const skipped: SkippedItem[] = [];
  data.forEach((item, index) => {
    const parsed = threadsPostSchema.safeParse(item);
    if (parsed.success) {
      posts.push(parsed.data);
      return;
    }
    const id = (item as { id?: unknown })?.id;
    skipped.push({
      item: typeof id === "string" && /^\w{1,30}$/.test(id)
        ? `post ${id}`
        : `post #${index} of its page`,
      reason: describeIssues(parsed.error, 3, item),
    });
  });
  return { posts, skipped };
}

const nullableNumber = z.number().nullable().optional();

/** One metric. Media metrics use `values`; user metrics `values` (views), `total_value` or `link_total_values` (clicks). */
const insightEntrySchema = z.object({
  name: z.string(),
  period: z.string().optional(),
  values: z.array(z.object({ value: nullableNumber, end_time: z.string().optional() }))
    .optional(),
  total_value: z.object({ value: nullableNumber }).optional(),
  link_total_values: z.array(z.object({ value: nullableNumber, link_url: z.string().optional() }))
    .optional(),
});
type InsightEntry = z.infer<typeof insightEntrySchema>;

export const insightsResponseSchema = z.object({
  data: z.array(insightEntrySchema),
  paging: pagingSchema.optional(),
});
export type InsightsResponse = z.infer<typeof insightsResponseSchema>;

export const tokenRefreshSchema = z.object({
  access_token: z.string().min(1, "must be a non-empty token"),
  token_type: z.string().optional(),
  expires_in: z.number().positive("must be a positive number of seconds"),
});

/** What the sync asks for: `fields` of /me and of each post. */
export const PROFILE_FIELDS =
  "id,username,name,threads_profile_picture_url,threads_biography,is_verified";
export const THREAD_FIELDS = "id,media_product_type,media_type,media_url,permalink,owner," +
  "username,text,timestamp,shortcode,thumbnail_url,is_quote_post,topic_tag";

export const POST_METRICS = ["views", "likes", "replies", "reposts", "quotes", "shares"] as const;
export const USER_METRICS = [
  "views",
  "likes",
  "replies",
  "reposts",
  "quotes",
  "clicks",
  "followers_count",
] as const;

export type PostMetric = typeof POST_METRICS[number];
export type UserMetric = typeof USER_METRICS[number];

/** Lifetime totals of one post; `null` where the API returned no value. */
export type PostInsights = Record<PostMetric, number | null>;

/** Account totals over the requested window (followers_count is always the current total). */
export type UserInsights = Record<UserMetric, number | null> & {
  /** Profile views per Pacific-time day; days without views are absent, as the API omits them. */
  views_by_day: { end_time: string; value: number }[];
};

/**
 * The number one entry stands for: `total_value.value`, else the sum of
 * `link_total_values` (clicks), else the sum of `values` (a single lifetime value for media,
 * one value per day for user views). `null` when the entry carries no number at all.
 */
export function metricValue(entry: InsightEntry): number | null {
  if (typeof entry.total_value?.value === "number") return entry.total_value.value;
  const list = entry.link_total_values ?? entry.values;
  if (!list) return null;
  const numbers = list.map((item) => item.value).filter((v): v is number => typeof v === "number");
  if (list.length > 0 && numbers.length === 0) return null;
  return numbers.reduce((sum, value) => sum + value, 0);
}

function byName<M extends string>(metrics: readonly M[], body: InsightsResponse) {
  const result = Object.fromEntries(metrics.map((m) => [m, null])) as Record<M, number | null>;
  for (const entry of body.data) {
    if ((metrics as readonly string[]).includes(entry.name)) {
      result[entry.name as M] = metricValue(entry);
    }
  }
  return result;
}

export function parsePostInsights(body: InsightsResponse): PostInsights {
  return byName(POST_METRICS, body);
}

/**
 * Why these counts cannot be stored, or undefined when they can: each must be a non-negative
 * integer a JSON number holds exactly (the columns are bigint), or null (not reported).
 */
export function countsProblem(counts: Record<string, number | null>): string | undefined {
  for (const [name, value] of Object.entries(counts)) {
    if (value !== null && !(Number.isSafeInteger(value) && value >= 0)) {
      return `${name} must be a non-negative integer or absent: current value is ${value}`;
    }
  }
  return undefined;
}

export function parseUserInsights(body: InsightsResponse): UserInsights {
  const views = body.data.find((entry) => entry.name === "views");
  const viewsByDay = (views?.values ?? [])
    .filter((v) => typeof v.value === "number" && typeof v.end_time === "string")
    .map((v) => ({ end_time: v.end_time as string, value: v.value as number }));
  return { ...byName(USER_METRICS, body), views_by_day: viewsByDay };
}

/**
 * The first few problems of a failed parse, as "path: message", for an error message; given
 * the parsed `input`, each names the value found (cut short).
 */
export function describeIssues(error: z.ZodError, max = 3, input?: unknown): string {
  const parts = error.issues.slice(0, max).map((issue) => {
    const path = issue.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`)
      .join("").replace(/^\./, "");
    if (input === undefined) return `${path || "body"}: ${issue.message}`;
    const value = issue.path.reduce<unknown>(
      (
        at,
        key,
      ) => (at && typeof at === "object" ? (at as Record<PropertyKey, unknown>)[key] : undefined),
      input,
    );
    const shown = value === undefined ? "absent" : JSON.stringify(value).slice(0, 60);
    return `${path || "item"} ${issue.message}: current value is ${shown}`;
  });
  const more = error.issues.length > max ? ` (and ${error.issues.length - max} more)` : "";
  return parts.join("; ") + more;
}
