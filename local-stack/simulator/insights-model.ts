/**
 * How metrics evolve in the simulated world: pure functions of (seed, post or account,
 * simulated time), non-decreasing in time, so two syncs an hour apart see different values and
 * a test can compute the expected value for any instant.
 *
 * A post gathers views along a saturating curve (most reach in the first days) plus a slow
 * tail of 2 % of its reach per day; likes, replies, reposts, quotes and shares are fixed
 * per-post fractions of its views. A post younger than 10 minutes has no insights yet, and a
 * REPOST_FACADE has none at all (the API answers `{"data": []}` for both).
 *
 * Account metrics are per Pacific-time day, as the API reports them: each day's profile views,
 * likes, … are drawn from (seed, account, day); `followers_count` grows daily from a base.
 */
import { hash32, unit } from "./prng.ts";
import { type Account, DAY, MINUTE, type Post } from "./world-model.ts";

export const INSIGHTS_DELAY_MS = 10 * MINUTE;

export type PostMetricName = "views" | "likes" | "replies" | "reposts" | "quotes" | "shares";
export const POST_METRIC_NAMES: readonly PostMetricName[] = [
  "views",
  "likes",
  "replies",
  "reposts",
  "quotes",
  "shares",
];

export type UserMetricName =
  | "views"
  | "likes"
  | "replies"
  | "reposts"
  | "quotes"
  | "clicks"
  | "followers_count"
  | "follower_demographics";
export const USER_METRIC_NAMES: readonly UserMetricName[] = [
  "views",
  "likes",
  "replies",
  "reposts",
  "quotes",
  "clicks",
  "followers_count",
  "follower_demographics",
];

/** Lifetime values of a post at `nowMs`, or null when the API returns no insights for it. */
export function postMetrics(
  seed: number,
  post: Post,
  nowMs: number,
): Record<PostMetricName, number> | null {
  const age = nowMs - post.publishedAt;
  if (post.mediaType === "REPOST_FACADE" || age < INSIGHTS_DELAY_MS) return null;
  const r = (name: string) => unit(seed, post.id, name);
  // Skewed reach: most posts get a few hundred views, a few get tens of thousands.
  const reach = 200 + r("reach") ** 3 * 50_000;
  const settleMs = (6 + r("settle") * 66) * 3_600_000;
  const views = Math.floor(reach * (1 - Math.exp(-age / settleMs)) + reach * 0.02 * age / DAY);
  const reposts = Math.floor(views * (0.001 + r("reposts") * 0.004));
  return {
    views,
    likes: Math.floor(views * (0.01 + r("likes") * 0.07)),
    replies: Math.floor(views * (0.002 + r("replies") * 0.008)),
    reposts,
    quotes: Math.floor(reposts * 0.3),
    shares: Math.floor(views * (0.001 + r("shares") * 0.003)),
  };
}

/** The end of each Pacific-time day overlapping [sinceMs, untilMs], in UTC ms. */
export function pacificDayEnds(sinceMs: number, untilMs: number): number[] {
  const ends: number[] = [];
  let end = nextPacificMidnight(sinceMs);
  for (let guard = 0; guard < 1000; guard++) {
    ends.push(end);
    if (end > untilMs) break;
    end = nextPacificMidnight(end + 1);
  }
  return ends;
}

const pacificHour = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/Los_Angeles",
  hour: "numeric",
  hourCycle: "h23",
});

/** The first Pacific midnight after `ms`: 07:00 UTC in summer (PDT), 08:00 UTC in winter. */
function nextPacificMidnight(ms: number): number {
  const day = Math.floor(ms / DAY) * DAY;
  for (const start of [day, day + DAY]) {
    for (const hour of [7, 8]) {
      const candidate = start + hour * 3_600_000;
      if (candidate > ms && Number(pacificHour.format(candidate)) % 24 === 0) return candidate;
    }
  }
  throw new Error(`Cannot find the Pacific midnight after ${new Date(ms).toISOString()}`);
}

/** One account metric for the Pacific day ending at `dayEnd`; 0 on quiet days. */
export function dailyValue(seed: number, account: Account, metric: string, dayEnd: number): number {
  if (unit(seed, account.id, metric, dayEnd, "quiet") < 0.2) return 0;
  const scale = { views: 400, likes: 120, replies: 25, reposts: 10, quotes: 4 }[metric] ?? 10;
  const size = 0.2 + unit(seed, account.id, "size") * 1.8;
  return Math.floor(unit(seed, account.id, metric, dayEnd) * scale * size);
}

/** Link clicks per shared URL over the window (the `link_total_values` of `clicks`). */
export function linkClicks(
  seed: number,
  account: Account,
  dayEnds: number[],
): { link_url: string; value: number }[] {
  const links = hash32(seed, account.id, "links") % 3;
  return Array.from({ length: links }, (_, i) => ({
    link_url: `https://example.com/${account.username}/link-${i + 1}`,
    value: dayEnds.reduce((sum, end) => sum + dailyValue(seed, account, `clicks${i}`, end), 0),
  }));
}

/** The current follower total: a base plus steady daily growth, never falling. */
export function followersCount(
  seed: number,
  account: Account,
  genesisMs: number,
  nowMs: number,
): number {
  const base = 50 + Math.floor(unit(seed, account.id, "followers") ** 2 * 20_000);
  const perDay = unit(seed, account.id, "growth") * 30;
  const days = Math.max(0, (nowMs - genesisMs) / DAY + 365);
  return base + Math.floor(perDay * days);
}
