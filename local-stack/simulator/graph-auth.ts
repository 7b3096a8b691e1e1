/**
 * The authentication step of a Graph request, in the order the real API checks: the method
 * and path, a token at all, a token it knows, then revoked and expired tokens (by fault rule
 * or by the token's own record, on the simulated clock).
 */
import { errors, type GraphAnswer } from "./graph-responses.ts";
import type { GraphRequest } from "./graph-request.ts";
import type { Account, TokenRecord } from "./world-model.ts";

export type Authentication =
  | { ok: true; account: Account; record: TokenRecord; now: number }
  | { ok: false; answer: GraphAnswer };

const refused = (answer: GraphAnswer): Authentication => ({ ok: false, answer });

export function authenticate(req: GraphRequest): Authentication {
  const { request, url, endpoint, token, resolved } = req;
  if (request.method !== "GET") return refused(errors.unsupportedMethod(request.method));
  if (endpoint === "unknown") return refused(errors.unknownPath(url.pathname));
  if (!token) return refused(errors.missingToken());
  if (!resolved || !resolved.account) return refused(errors.invalidToken());
  const now = req.state.clock.now();

  for (const rule of req.find("token_revoked")) {
    req.fire(rule);
    return refused(errors.revokedToken(rule.subcode));
  }
  if (resolved.record.revoked) return refused(errors.revokedToken(467));
  for (const rule of req.find("token_expired")) {
    req.fire(rule);
    return refused(errors.expiredToken(Math.min(now, resolved.record.expiresAt) - 60_000, now));
  }
  if (now >= resolved.record.expiresAt) {
    return refused(errors.expiredToken(resolved.record.expiresAt, now));
  }
  return { ok: true, account: resolved.account, record: resolved.record, now };
}
