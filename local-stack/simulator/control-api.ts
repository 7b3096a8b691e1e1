/**
 * The simulator's control API, on the same port under `/_simulator/` (no Graph path starts
 * with an underscore). Other processes — integration tests, benchmarks, the functions host's
 * syncs — drive the simulator this way. JSON in, JSON out; errors are
 * `{"error": "<code>", "detail": "<what to fix>"}`.
 *
 *   GET    /_simulator/state                    seed, simulated now, clock mode, account count, faults
 *   GET    /_simulator/stats                    requests per endpoint/account/status, rate-limit
 *                                               answers (per code), faults injected, peak requests/s,
 *                                               admitted requests in any sliding second (app-wide,
 *                                               per account) and per whole second
 *   POST   /_simulator/stats/reset              zero the counters and the rate windows
 *   POST   /_simulator/clock/advance            {"ms"|"seconds"|"minutes"|"hours"|"days": n} -> {now}
 *   GET    /_simulator/accounts                 [{index, id, username, token, posts, tokenExpiresAt}]
 *   POST   /_simulator/accounts                 {"count": n, "posts"?: m} -> {accounts: [...]}
 *   POST   /_simulator/accounts/{ref}/posts     {"count": n}: the account's history size
 *   POST   /_simulator/accounts/{ref}/publish   {"count"?: 1}: new posts, published now -> {ids}
 *   GET    /_simulator/posts/{media-id}         the post's true metrics now (not counted as API use)
 *   GET    /_simulator/faults                   the active rules
 *   POST   /_simulator/faults                   a rule (see faults.ts) -> the rule with its id
 *   DELETE /_simulator/faults/{id}              remove one rule
 *   DELETE /_simulator/faults                   remove every rule
 *
 * `{ref}` is an account's index, user id or username.
 */
import { z } from "zod";
import type { FaultSpec } from "./faults.ts";
import { postMetrics } from "./insights-model.ts";
import type { SimulatorState } from "./state.ts";
import { DAY, HOUR, MINUTE } from "./world-model.ts";

export const CONTROL_PREFIX = "/_simulator";

const reply = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=UTF-8" },
  });
const problem = (status: number, error: string, detail: string) => reply(status, { error, detail });

const advanceSchema = z.strictObject({
  ms: z.number().min(0).optional(),
  seconds: z.number().min(0).optional(),
  minutes: z.number().min(0).optional(),
  hours: z.number().min(0).optional(),
  days: z.number().min(0).optional(),
});
const countSchema = (max: number) =>
  z.strictObject({
    count: z.number().int().min(0).max(max),
    posts: z.number().int().min(0).optional(),
  });
const publishSchema = z.strictObject({ count: z.number().int().min(1).max(1000).default(1) });

async function body<T>(request: Request, schema: z.ZodType<T>): Promise<T | Response> {
  let json: unknown = {};
  const text = await request.text();
  if (text.trim() !== "") {
    try {
      json = JSON.parse(text);
    } catch {
      return problem(400, "invalid_body", "body must be JSON");
    }
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return problem(400, "invalid_body", `${issue.path.join(".") || "body"}: ${issue.message}`);
}

/** Exact `METHOD /path` routes. */
const FIXED_ROUTES: Record<
  string,
  (state: SimulatorState, request: Request) => Promise<Response> | Response
> = {
  "GET /state": (state) =>
    reply(200, {
      seed: state.world.seed,
      now: new Date(state.clock.now()).toISOString(),
      startedAt: new Date(state.clock.startMs).toISOString(),
      frozenClock: state.clock.frozen,
      accounts: state.world.accounts.length,
      faults: state.faults.list(),
    }),
  "GET /stats": (state) => reply(200, state.stats.snapshot()),
  "POST /stats/reset": (state) => {
    state.stats.reset();
    return reply(200, { reset: true });
  },
  "POST /clock/advance": advanceClock,
};

/** One resource's routes (`/<resource>/...`): a response, or undefined when none matches. */
type ResourceRoutes = (
  state: SimulatorState,
  request: Request,
  parts: string[],
) => Promise<Response | undefined> | Response | undefined;

const RESOURCE_ROUTES: Record<string, ResourceRoutes> = {
  accounts: accountRoutes,
  posts: postRoutes,
  faults: faultRoutes,
};

export async function handleControlRequest(
  state: SimulatorState,
  request: Request,
  url: URL,
): Promise<Response> {
  const path = url.pathname.slice(CONTROL_PREFIX.length).replace(/\/+$/, "") || "/";
  const key = `${request.method} ${path}`;
  if (Object.hasOwn(FIXED_ROUTES, key)) return await FIXED_ROUTES[key](state, request);
  const parts = path.split("/").filter(Boolean);
  const resource = Object.hasOwn(RESOURCE_ROUTES, parts[0] ?? "")
    ? RESOURCE_ROUTES[parts[0]]
    : undefined;
  return await resource?.(state, request, parts) ??
    problem(404, "not_found", `${request.method} ${url.pathname} is not a control route`);
}

async function advanceClock(state: SimulatorState, request: Request): Promise<Response> {
  const b = await body(request, advanceSchema);
  if (b instanceof Response) return b;
  const ms = (b.ms ?? 0) + (b.seconds ?? 0) * 1000 + (b.minutes ?? 0) * MINUTE +
    (b.hours ?? 0) * HOUR + (b.days ?? 0) * DAY;
  state.clock.advance(ms);
  state.persist();
  return reply(200, { now: new Date(state.clock.now()).toISOString(), advancedMs: ms });
}

async function accountRoutes(state: SimulatorState, request: Request, parts: string[]) {
  const { world, clock } = state;
  const method = request.method;
  if (parts.length === 1 && method === "GET") return reply(200, state.demoAccounts());
  if (parts.length === 1 && method === "POST") {
    const b = await body(request, countSchema(10_000));
    if (b instanceof Response) return b;
    const added = world.addAccounts(b.count, b.posts ?? state.postsPerAccount);
    state.persist();
    return reply(201, { accounts: added.map((a) => state.describe(a)) });
  }
  const account = parts[1] ? world.account(decodeURIComponent(parts[1])) : undefined;
  if (!account) return problem(404, "not_found", `account ${parts[1]} does not exist`);
  if (parts.length === 3 && method === "POST" && parts[2] === "posts") {
    const b = await body(request, countSchema(99_999));
    if (b instanceof Response) return b;
    world.setHistoryCount(account, b.count);
    state.persist();
    return reply(200, state.describe(account));
  }
  if (parts.length === 3 && method === "POST" && parts[2] === "publish") {
    const b = await body(request, publishSchema);
    if (b instanceof Response) return b;
    const posts = world.publish(account, b.count, clock.now());
    state.persist();
    return reply(201, { ids: posts.map((p) => p.id) });
  }
  return undefined;
}

function postRoutes(state: SimulatorState, request: Request, parts: string[]) {
  if (parts.length !== 2 || request.method !== "GET") return undefined;
  const { world, clock } = state;
  const post = world.postById(parts[1]);
  if (!post) return problem(404, "not_found", `post ${parts[1]} does not exist`);
  return reply(200, {
    id: post.id,
    account: post.account.id,
    mediaType: post.mediaType,
    publishedAt: new Date(post.publishedAt).toISOString(),
    metrics: postMetrics(world.seed, post, clock.now()),
  });
}

async function faultRoutes(state: SimulatorState, request: Request, parts: string[]) {
  const { faults } = state;
  const method = request.method;
  if (parts.length === 1 && method === "GET") return reply(200, faults.list());
  if (parts.length === 1 && method === "POST") {
    const b = await body(request, z.unknown());
    if (b instanceof Response) return b;
    try {
      // Validated by add(), which names the bad field.
      return reply(201, faults.add(b as FaultSpec));
    } catch (error) {
      const issue = error instanceof z.ZodError ? error.issues[0] : undefined;
      const detail = issue ? `${issue.path.join(".") || "fault"}: ${issue.message}` : String(error);
      return problem(400, "invalid_fault", detail);
    }
  }
  if (parts.length === 1 && method === "DELETE") return reply(200, { removed: faults.clear() });
  if (parts.length === 2 && method === "DELETE") {
    return faults.remove(parts[1])
      ? reply(200, { removed: 1 })
      : problem(404, "not_found", `fault ${parts[1]} does not exist`);
  }
  return undefined;
}
