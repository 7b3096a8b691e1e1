/**
 * What the simulator reads from a Graph request before deciding its answer: the route
 * (`/v1.0/...` and the unversioned paths), the token (the `access_token` query parameter, or
 * `Authorization: Bearer`, which real clients use too), the account it belongs to, and the
 * fault rules that match. Reading it counts the request in the stats, by arrival time.
 */
import type { EndpointName, FaultRule } from "./faults.ts";
import type { SimulatorState } from "./state.ts";
import type { Account, TokenRecord } from "./world-model.ts";

export interface GraphRequest {
  state: SimulatorState;
  request: Request;
  url: URL;
  /** Real ms at arrival: the per-second limits and the stats count by it. */
  arrivedAt: number;
  endpoint: EndpointName;
  node?: string;
  token?: string;
  resolved?: { account: Account; record: TokenRecord };
  /** The rules that match this request, in installation order. */
  faults: FaultRule[];
  /** Records that a rule acted (its count, and the stats). */
  fire(rule: FaultRule): void;
  /** The matching rules of one kind. */
  find<K extends FaultRule["kind"]>(kind: K): FaultRule<K>[];
}

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

/** Routes the request, resolves its token, counts it and matches the fault rules. */
export function readGraphRequest(
  state: SimulatorState,
  request: Request,
  url: URL,
): GraphRequest {
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
  return {
    state,
    request,
    url,
    arrivedAt,
    endpoint,
    node,
    token,
    resolved,
    faults,
    fire: (rule) => {
      state.faults.fire(rule);
      state.stats.fault(rule.kind);
    },
    find: <K extends FaultRule["kind"]>(kind: K) =>
      faults.filter((f) => f.kind === kind) as FaultRule<K>[],
  };
}
