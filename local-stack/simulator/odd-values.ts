/**
 * The `odd_values` fault: an answer that has the documented shape but carries values a
 * store cannot hold (a media type in lower case, a negative count, a 100-digit id, a token
 * lifetime of centuries). It changes one item of a well-formed answer in place:
 *
 *   threads                        the post at `item` of the page: its fields set to `values`
 *   post_insights, user_insights   each metric named in `values` answers that value
 *   anything else                  top-level fields set (`expires_in` of a token refresh, say)
 */
import type { EndpointName, FaultRule } from "./faults.ts";

type Json = Record<string, unknown>;

export function withOddValues(
  body: unknown,
  endpoint: EndpointName,
  rule: FaultRule<"odd_values">,
): void {
  if (!body || typeof body !== "object") return;
  const answer = body as Json;
  const data = Array.isArray(answer.data) ? answer.data as Json[] : undefined;
  if (endpoint === "threads") {
    if (data?.[rule.item]) Object.assign(data[rule.item], rule.values);
    return;
  }
  if (endpoint === "post_insights" || endpoint === "user_insights") {
    for (const entry of data ?? []) {
      const name = String(entry.name);
      if (!Object.hasOwn(rule.values, name)) continue;
      const value = rule.values[name];
      // Each entry keeps its own shape; only the number in it changes.
      if ("total_value" in entry) entry.total_value = { value };
      else if ("link_total_values" in entry) entry.link_total_values = [{ value }];
      else entry.values = [{ value }];
    }
    return;
  }
  Object.assign(answer, rule.values);
}
