/**
 * One Graph request, end to end: read it (route, token, account, matching fault rules:
 * graph-request.ts), apply the fault rules in the order the real trouble would show up
 * (down, authentication: graph-auth.ts, rate limits: graph-limits.ts, transient failures,
 * injected errors), answer from the endpoints (account-, post- and insights-endpoints.ts), put
 * in odd values if a rule says so, hold the answer for the latency and hang rules, and finally
 * garble the body if a malformed-body rule says so.
 *
 * The answer is decided when the request arrives, with no wait in between, and only sent after
 * the latency: so the per-second limits and the stats count requests by arrival time, in
 * arrival order, as the real API's limiter would, whatever latency a rule adds.
 */
import type { EndpointName } from "./faults.ts";
import { profile, publishingLimit, refreshToken } from "./account-endpoints.ts";
import type { EndpointContext } from "./endpoint-context.ts";
import { authenticate } from "./graph-auth.ts";
import { refuseOverLimit } from "./graph-limits.ts";
import { type GraphRequest, readGraphRequest } from "./graph-request.ts";
import { postInsights, userInsights } from "./insights-endpoints.ts";
import { singlePost, threadsList } from "./post-endpoints.ts";
import { errors, type GraphAnswer, graphError, malformed } from "./graph-responses.ts";
import { withOddValues } from "./odd-values.ts";
import type { SimulatorState } from "./state.ts";

export async function handleGraphRequest(
  state: SimulatorState,
  request: Request,
  url: URL,
): Promise<Response> {
  const req = readGraphRequest(state, request, url);
  const answer = await decideThenHold(req);
  return send(req, answer);
}

/** The answer, decided now and held for the latency and hang rules; a down rule answers first. */
async function decideThenHold(req: GraphRequest): Promise<GraphAnswer> {
  for (const rule of req.find("down")) {
    req.fire(rule);
    return errors.transient(2, rule.status);
  }
  const decided = decide(req);
  for (const rule of [...req.find("latency"), ...req.find("hang")]) {
    req.fire(rule);
    // Not cut short when the client gives up: close() releases every wait.
    await req.state.wait(rule.ms);
  }
  return decided;
}

function decide(req: GraphRequest): GraphAnswer {
  const auth = authenticate(req);
  if (!auth.ok) return auth.answer;
  const { account, record, now } = auth;
  const headers: Record<string, string> = {};
  const refused = refuseOverLimit(req, account, now, headers);
  if (refused) return refused;
  const failed = injectedFailure(req);
  if (failed) return failed;

  const { state, url, faults, fire, endpoint } = req;
  const ctx: EndpointContext = { state, url, account, token: record, now, faults, fire };
  const answer = dispatch(ctx, endpoint, req.node);
  for (const rule of answer.status < 400 ? req.find("odd_values") : []) {
    fire(rule);
    withOddValues(answer.body, endpoint, rule);
  }
  return { ...answer, headers: { ...headers, ...answer.headers } };
}

/** The transient and error rules, once the request is admitted. */
function injectedFailure(req: GraphRequest): GraphAnswer | undefined {
  for (const rule of req.find("transient")) {
    if (req.state.faults.draw(rule) < rule.rate) {
      req.fire(rule);
      return errors.transient(rule.code, rule.status);
    }
  }
  for (const rule of req.find("error")) {
    req.fire(rule);
    const message = rule.message ??
      `(#${rule.code}) The simulator was told to fail this request.`;
    return graphError({
      status: rule.status,
      code: rule.code,
      subcode: rule.subcode,
      type: rule.type,
      message: rule.echoToken ? `${message} (access token: ${req.token})` : message,
    });
  }
  return undefined;
}

/** Serialises the answer, garbled if a malformed rule applies to a successful one. */
function send(req: GraphRequest, answer: GraphAnswer): Response {
  const garble = answer.status < 400 ? req.find("malformed")[0] : undefined;
  req.state.stats.status(garble?.status ?? answer.status);
  if (garble) {
    req.fire(garble);
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
