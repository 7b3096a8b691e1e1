/**
 * The insights endpoints of graph.threads.net in the simulator: post
 * insights (lifetime values) and user insights (per-day views, window totals, followers),
 * with the omit-metrics fault.
 */
import { errors, type GraphAnswer, graphError, graphTime } from "./graph-responses.ts";
import { type EndpointContext, metricsParam, ok, omitted } from "./endpoint-context.ts";
import {
  dailyValue,
  followersCount,
  linkClicks,
  pacificDayEnds,
  POST_METRIC_NAMES,
  postMetrics,
  USER_METRIC_NAMES,
} from "./insights-model.ts";
import { DAY } from "./world-model.ts";

const USER_INSIGHTS_EPOCH_S = 1712991600;

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
