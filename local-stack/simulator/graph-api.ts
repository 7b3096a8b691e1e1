/**
 * One Graph request, end to end: route it (`/v1.0/...` and the unversioned paths), find the
 * token (the `access_token` query parameter, or `Authorization: Bearer`, which real clients
 * use too), count it, apply the fault rules in the order the real trouble would show up
 * (down, authentication, rate limits, transient failures, injected errors), answer from
 * the endpoints (account-, post- and insights-endpoints.ts), put in odd values if a rule says
 * so, hold the answer for the latency and hang rules, and finally garble the body if a
 * malformed-body rule says so.
 *
 * The answer is decided when the request arrives, with no wait in between, and only sent after
 * the latency: so the per-second limits and the stats count requests by arrival time, in
 * arrival order, as the real API's limiter would, whatever latency a rule adds.
 */
import type { EndpointName, FaultRule } from "./faults.ts";
import { profile, publishingLimit, refreshToken } from "./account-endpoints.ts";
import type { EndpointContext } from "./endpoint-context.ts";
import { postInsights, userInsights } from "./insights-endpoints.ts";
import { singlePost, threadsList } from "./post-endpoints.ts";
import { errors, type GraphAnswer, graphError, malformed } from "./graph-responses.ts";
import { withOddValues } from "./odd-values.ts";
import type { SimulatorState } from "./state.ts";

interface Route {
  endpoint: EndpointName;
  node?: string;
}

const USER_EDGES: Record<string, EndpointName> = {
  threads: "threads",
  threads_insights: "user_insights",
  threads_publishing_limit: "publishing_limit",
};

function route(pathname: string): Route {
  const parts = pathname.replace(/^\/v\d+(\.\d+)?(?=\/|$)/, "").split("/").filter(Boolean);
  if (parts.length === 1 && parts[0] === "refresh_access_token") {
    return { endpoint: "refresh_token" };
  }
  const [node, edge] = parts;
  // User ids are "25…", media ids "18…" in this world (real ones are all 17-digit numbers).
  const isUser = node === "me" || /^25\d{15}$/.test(node ?? "");
  if (parts.length === 1) return { endpoint: isUser ? "profile" : "post", node };
  if (parts.length === 2 && isUser && USER_EDGES[edge]) return { endpoint: USER_EDGES[edge], node };
  if (parts.length === 2 && !isUser && edge === "insights") {
    return { endpoint: "post_insights", node };
  }
  return { endpoint: "unknown", node };
}

function bearer(header: string | null): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

export async function handleGraphRequest(
  state: SimulatorState,
  request: Request,
  url: URL,
): Promise<Response> {
  const arrivedAt = state.realNow();
  const { endpoint, node } = route(url.pathname);
  const token = url.searchParams.get("access_token") ??
    bearer(request.headers.get("authorization"));
  const resolved = token ? state.world.resolveToken(token) : undefined;
  const account = resolved?.account;
  state.stats.request(endpoint, account?.id, arrivedAt);
  const faults = state.faults.match({
    token,
    userId: account?.id,
    username: account?.username,
    endpoint,
  });
  const fire = (rule: FaultRule) => {
    state.faults.fire(rule);
    state.stats.fault(rule.kind);
  };
  const find = <K extends FaultRule["kind"]>(kind: K) =>
    faults.filter((f) => f.kind === kind) as FaultRule<K>[];

  const decide = (): GraphAnswer => {
    if (request.method !== "GET") return errors.unsupportedMethod(request.method);
    if (endpoint === "unknown") return errors.unknownPath(url.pathname);
    if (!token) return errors.missingToken();
    if (!resolved || !account) return errors.invalidToken();
    const now = state.clock.now();

    for (const rule of find("token_revoked")) {
      fire(rule);
      return errors.revokedToken(rule.subcode);
    }
    if (resolved.record.revoked) return errors.revokedToken(467);
    for (const rule of find("token_expired")) {
      fire(rule);
      return errors.expiredToken(Math.min(now, resolved.record.expiresAt) - 60_000, now);
    }
    if (now >= resolved.record.expiresAt) {
      return errors.expiredToken(resolved.record.expiresAt, now);
    }

    const headers: Record<string, string> = {};
    const refuse = (rule: FaultRule, code: number, status: number, sent = headers) => {
      fire(rule);
      state.stats.rateLimited(account.id, code);
      return errors.rateLimited(code, status, sent);
    };
    for (const rule of find("app_rate_limit")) {
      if (!state.faults.admitWindow(rule, arrivedAt)) return refuse(rule, 4, 400, {});
    }
    for (const rule of find("rate_limit")) {
      const admission = state.faults.admitRate(rule, account.id);
      if (!admission.ok) {
        const retry: Record<string, string> = rule.retryAfter
          ? { "retry-after": String(Math.ceil(admission.retryAfterMs / 1000)) }
          : {};
        return refuse(rule, rule.code, rule.status, retry);
      }
    }
    for (const rule of find("daily_budget")) {
      const admission = state.faults.admitBudget(rule, account.id, now);
      if (rule.headers) {
        // Graph's per-business usage header, keyed by the user here (the budget is per user).
        const regain = admission.ok ? 0 : Math.ceil(admission.retryAfterMs / 60_000);
        headers["x-business-use-case-usage"] = JSON.stringify({
          [account.id]: [{
            type: "threads",
            call_count: admission.usagePercent ?? 0,
            total_cputime: 0,
            total_time: 0,
            estimated_time_to_regain_access: regain,
          }],
        });
      }
      if (!admission.ok) {
        if (rule.headers) {
          headers["retry-after"] = String(Math.ceil(admission.retryAfterMs / 1000));
        }
        return refuse(rule, rule.code, rule.status);
      }
    }
    state.stats.admitted(account.id, arrivedAt);
    for (const rule of find("transient")) {
      if (state.faults.draw(rule) < rule.rate) {
        fire(rule);
        return errors.transient(rule.code, rule.status);
      }
    }
    for (const rule of find("error")) {
      fire(rule);
      const message = rule.message ??
        `(#${rule.code}) The simulator was told to fail this request.`;
      return graphError({
        status: rule.status,
        code: rule.code,
        subcode: rule.subcode,
        type: rule.type,
        message: rule.echoToken ? `${message} (access token: ${token})` : message,
      });
    }

    const ctx: EndpointContext = { state, url, account, token: resolved.record, now, faults, fire };
    const answer = dispatch(ctx, endpoint, node);
    for (const rule of answer.status < 400 ? find("odd_values") : []) {
      fire(rule);
      withOddValues(answer.body, endpoint, rule);
    }
    return { ...answer, headers: { ...headers, ...answer.headers } };
  };

  const answer = await (async (): Promise<GraphAnswer> => {
    for (const rule of find("down")) {
      fire(rule);
      return errors.transient(2, rule.status);
    }
    const decided = decide();
    for (const rule of [...find("latency"), ...find("hang")]) {
      fire(rule);
      // Not cut short when the client gives up: close() releases every wait.
      await state.wait(rule.ms);
    }
    return decided;
  })();

  const garble = answer.status < 400 ? find("malformed")[0] : undefined;
  state.stats.status(garble?.status ?? answer.status);
  if (garble) {
    fire(garble);
    const { text, contentType } = malformed(garble.variant, answer, garble.bytes);
    return new Response(text, {
      status: garble.status,
      headers: { ...answer.headers, "content-type": contentType },
    });
  }
  return new Response(JSON.stringify(answer.body), {
    status: answer.status,
    headers: { ...answer.headers, "content-type": "application/json; charset=UTF-8" },
  });
}

function dispatch(ctx: EndpointContext, endpoint: EndpointName, node?: string): GraphAnswer {
  // A user node must be the token's own user ("You may only fetch the profile of the
  // app-scoped user").
  if (node && node !== "me" && endpoint !== "post" && endpoint !== "post_insights") {
    if (node !== ctx.account.id) return errors.objectMissing(node);
  }
  switch (endpoint) {
    case "profile":
      return profile(ctx);
    case "post":
      return singlePost(ctx, node!);
    case "threads":
      return threadsList(ctx);
    case "post_insights":
      return postInsights(ctx, node!);
    case "user_insights":
      return userInsights(ctx);
    case "publishing_limit":
      return publishingLimit();
    case "refresh_token":
      return refreshToken(ctx);
    case "unknown":
      return errors.unknownPath(ctx.url.pathname);
  }
}
