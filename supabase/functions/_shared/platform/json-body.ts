/**
 * Reading a request's JSON body against a strict zod schema, with the problems named the way
 * every function answers them: `{"error": "invalid_body", "detail": "<field> <problem>; ..."}`.
 * An empty body is `{}`. The detail names fields and rules only, never a submitted value, so a
 * body carrying a secret (connect-account's accessToken) cannot echo it back.
 */
import type { z } from "zod";

export type ParsedBody<T> = { ok: true; data: T } | { ok: false; detail: string };

/** Describes zod issues as "path message; ...", unknown keys listed by name. */
export function describeBodyIssues(error: z.ZodError): string {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") return `unknown keys: ${issue.keys.join(", ")}`;
    const path = issue.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`)
      .join("").replace(/^\./, "");
    return path ? `${path} ${issue.message}` : `body ${issue.message}`;
  }).join("; ");
}

export async function parseJsonBody<S extends z.ZodType>(
  request: Request,
  schema: S,
): Promise<ParsedBody<z.output<S>>> {
  const text = await request.text();
  let json: unknown = {};
  if (text.trim() !== "") {
    try {
      json = JSON.parse(text);
    } catch {
      return { ok: false, detail: "body must be JSON" };
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, detail: describeBodyIssues(parsed.error) };
  return { ok: true, data: parsed.data };
}
