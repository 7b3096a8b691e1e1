/**
 * The rate-limit step of an authenticated Graph request: the strict app-wide window, the
 * token-bucket limits, then the rolling daily budget (faults.ts has the rules' semantics).
 * A refused request is counted as rate limited; an admitted one is counted as admitted, by
 * arrival time.
 */
import type { Admission, FaultRule } from "./faults.ts";
import { errors, type GraphAnswer } from "./graph-responses.ts";
import type { GraphRequest } from "./graph-request.ts";
import type { Account } from "./world-model.ts";

/**
 * Undefined when every limit admits the request. `headers` collects the usage headers a
 * daily budget sends, refused or not: the caller adds them to the answer.
 */
export function refuseOverLimit(
  req: GraphRequest,
  account: Account,
  now: number,
  headers: Record<string, string>,
): GraphAnswer | undefined {
  const refuse = (rule: FaultRule, code: number, status: number, sent = headers) => {
    req.fire(rule);
    req.state.stats.rateLimited(account.id, code);
    return errors.rateLimited(code, status, sent);
  };
  for (const rule of req.find("app_rate_limit")) {
    if (!req.state.faults.admitWindow(rule, req.arrivedAt)) return refuse(rule, 4, 400, {});
  }
  for (const rule of req.find("rate_limit")) {
    const admission = req.state.faults.admitRate(rule, account.id);
    if (!admission.ok) {
      const retry: Record<string, string> = rule.retryAfter
        ? { "retry-after": String(Math.ceil(admission.retryAfterMs / 1000)) }
        : {};
      return refuse(rule, rule.code, rule.status, retry);
    }
  }
  for (const rule of req.find("daily_budget")) {
    const admission = req.state.faults.admitBudget(rule, account.id, now);
    if (rule.headers) Object.assign(headers, budgetHeaders(account, admission));
    if (!admission.ok) return refuse(rule, rule.code, rule.status);
  }
  req.state.stats.admitted(account.id, req.arrivedAt);
  return undefined;
}

/** Graph's per-business usage header, keyed by the user here (the budget is per user). */
function budgetHeaders(account: Account, admission: Admission): Record<string, string> {
  const regain = admission.ok ? 0 : Math.ceil(admission.retryAfterMs / 60_000);
  const headers: Record<string, string> = {
    "x-business-use-case-usage": JSON.stringify({
      [account.id]: [{
        type: "threads",
        call_count: admission.usagePercent ?? 0,
        total_cputime: 0,
        total_time: 0,
        estimated_time_to_regain_access: regain,
      }],
    }),
  };
  if (!admission.ok) headers["retry-after"] = String(Math.ceil(admission.retryAfterMs / 1000));
  return headers;
}
