/**
 * What every Graph read endpoint of the simulator works with: the request's context (state,
 * URL, the token's account, the fault rules in force) and the helpers that answer in the API's
 * shapes (`fields` checked against the node's known fields, `metric` lists, omitted metrics).
 * The request has already passed authentication and the fault rules (graph-api.ts); the
 * endpoints only apply the shaping faults (empty pages, duplicates, omitted metrics).
 */
import type { FaultRule } from "./faults.ts";
import { errors, type GraphAnswer } from "./graph-responses.ts";
import type { SimulatorState } from "./state.ts";
import type { Account, TokenRecord } from "./world-model.ts";

export interface EndpointContext {
  state: SimulatorState;
  url: URL;
  account: Account;
  token: TokenRecord;
  now: number;
  faults: FaultRule[];
  fire(rule: FaultRule): void;
}

export const ok = (body: unknown): GraphAnswer => ({ status: 200, body });

export function findRule<K extends FaultRule["kind"]>(ctx: EndpointContext, kind: K) {
  return ctx.faults.find((f) => f.kind === kind) as FaultRule<K> | undefined;
}

/** `fields=a,b` checked against the node's known fields; default `id`. */
export function requestedFields(
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
export function pick(full: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (full[f] !== undefined) out[f] = full[f];
  return out;
}

/** The `metric` list, checked against what the endpoint supports. */
export function metricsParam(
  ctx: EndpointContext,
  allowed: readonly string[],
): string[] | GraphAnswer {
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

/** The metrics an omit_metrics rule leaves out of this answer (the rule fires). */
export function omitted(ctx: EndpointContext): Set<string> {
  const rule = findRule(ctx, "omit_metrics");
  if (!rule) return new Set();
  ctx.fire(rule);
  return new Set(rule.metrics);
}
