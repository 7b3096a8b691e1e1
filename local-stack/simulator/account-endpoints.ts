/**
 * The account endpoints of graph.threads.net in the simulator: the
 * profile, the publishing limit and the token refresh.
 */
import { errors, type GraphAnswer } from "./graph-responses.ts";
import { type EndpointContext, ok, pick, requestedFields } from "./endpoint-context.ts";
import { HOUR } from "./world-model.ts";

const PROFILE_FIELDS = new Set([
  "id",
  "username",
  "name",
  "threads_profile_picture_url",
  "threads_biography",
  "is_verified",
  "recently_searched_keywords",
]);

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
