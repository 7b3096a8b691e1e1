/**
 * The SQLSTATE of a database error, for the few project codes a function turns into an HTTP
 * answer (e.g. TS301 "workspace does not exist" -> 404). Everything else stays a 500 whose
 * detail is in the log, never in the reply.
 */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
