/**
 * Caller authentication for functions called by pg_cron and operators:
 * `Authorization: Bearer <CRON_SECRET>`, compared in constant time.
 */
import { preflight } from "../cors.ts";
import { methodNotAllowed, unauthorized } from "./http.ts";

const encoder = new TextEncoder();

/**
 * True when the request carries the expected bearer secret. Both sides are hashed first, so
 * the comparison takes the same time whatever the length or content of the attempt.
 */
export async function hasBearerSecret(request: Request, secret: string): Promise<boolean> {
  const match = /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "");
  if (!match) return false;
  const [given, expected] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(match[1].trim())),
    crypto.subtle.digest("SHA-256", encoder.encode(secret)),
  ]);
  const a = new Uint8Array(given);
  const b = new Uint8Array(expected);
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

/**
 * The gate of every function pg_cron and operators POST to: answers a CORS preflight, refuses
 * other methods (405) and a missing or wrong cron secret (401). Undefined: go on.
 */
export async function refuseUnlessCronPost(
  request: Request,
  secret: string,
): Promise<Response | undefined> {
  if (request.method === "OPTIONS") return preflight();
  if (request.method !== "POST") return methodNotAllowed(["POST", "OPTIONS"]);
  if (!(await hasBearerSecret(request, secret))) return unauthorized();
  return undefined;
}
