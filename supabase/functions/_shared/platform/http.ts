/**
 * JSON replies with one error shape: `{"error": "<stable_code>", "detail": "<what to fix>"}`.
 * Raw database or upstream messages never go to the caller; they go to the log.
 */
import { corsHeaders } from "../cors.ts";

export function jsonResponse(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...corsHeaders, "Content-Type": "application/json", ...headers },
  });
}

export function errorResponse(status: number, error: string, detail: string): Response {
  return jsonResponse(status, { error, detail });
}

export const unauthorized = () =>
  errorResponse(401, "unauthorized", "Authorization must be `Bearer <CRON_SECRET>`");

export const methodNotAllowed = (allowed: string[]) =>
  jsonResponse(405, {
    error: "method_not_allowed",
    detail: `method must be one of ${allowed.join(", ")}`,
  }, { Allow: allowed.join(", ") });
