/** CORS for functions an operator may call from a browser (the dashboard, a status page). */
export const corsHeaders: Readonly<Record<string, string>> = Object.freeze({
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
});

/** The answer to a CORS preflight request. */
export function preflight(): Response {
  return new Response(null, { status: 204, headers: corsHeaders });
}
