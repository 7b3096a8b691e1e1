/**
 * Graph-shaped answers: the error body `{"error": {message, type, code, error_subcode,
 * fbtrace_id}}` with the messages real clients report, the timestamp
 * format `2023-10-17T05:42:03+0000`, and the malformed bodies a proxy or a cut connection
 * produce.
 */

export interface GraphErrorInit {
  status: number;
  code: number;
  message: string;
  subcode?: number;
  type?: string;
  isTransient?: boolean;
  headers?: Record<string, string>;
}

/** A plain answer before serialisation; malformed-body faults rewrite it. */
export interface GraphAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

let traceCounter = 0;

/** `fbtrace_id`: an opaque request id operators quote to Meta. */
function fbtraceId(): string {
  traceCounter = (traceCounter + 1) % 0x7fffffff;
  return `SIM${traceCounter.toString(36).toUpperCase().padStart(8, "A")}`;
}

export function graphError(init: GraphErrorInit): GraphAnswer {
  const error: Record<string, unknown> = {
    message: init.message,
    type: init.type ?? "OAuthException",
    code: init.code,
  };
  if (init.subcode !== undefined) error.error_subcode = init.subcode;
  if (init.isTransient) error.is_transient = true;
  error.fbtrace_id = fbtraceId();
  return { status: init.status, body: { error }, headers: init.headers };
}

export const errors = {
  missingToken: () =>
    graphError({
      status: 400,
      code: 2500,
      message: "An active access token must be used to query information about the current user.",
    }),
  invalidToken: () =>
    graphError({
      status: 400,
      code: 190,
      message: "Invalid OAuth access token - Cannot parse access token",
    }),
  expiredToken: (expiredAt: number, now: number) =>
    graphError({
      status: 400,
      code: 190,
      subcode: 463,
      message: `Error validating access token: Session has expired on ${
        new Date(expiredAt).toUTCString()
      }. The current time is ${new Date(now).toUTCString()}.`,
    }),
  revokedToken: (subcode: number) =>
    graphError({
      status: 400,
      code: 190,
      subcode,
      message: subcode === 460
        ? "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
        : "Error validating access token: The user has not authorized application.",
    }),
  objectMissing: (id: string) =>
    graphError({
      status: 400,
      code: 100,
      subcode: 33,
      message:
        `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    }),
  unknownPath: (path: string) =>
    graphError({ status: 400, code: 2500, message: `Unknown path components: ${path}` }),
  invalidParameter: (message: string) =>
    graphError({ status: 400, code: 100, message: `(#100) ${message}` }),
  unsupportedMethod: (method: string) =>
    graphError({
      status: 400,
      code: 100,
      message: `Unsupported ${method.toLowerCase()} request.`,
    }),
  rateLimited: (code: number, status: number, headers: Record<string, string>) =>
    graphError({
      status,
      code,
      isTransient: code === 4,
      headers,
      message: code === 17
        ? "(#17) User request limit reached"
        : code === 4
        ? "(#4) Application request limit reached"
        : `(#${code}) Calls to this api have exceeded the rate limit.`,
    }),
  transient: (code: number, status: number) =>
    graphError({
      status,
      code,
      isTransient: true,
      message: code === 1
        ? "An unknown error has occurred."
        : "An unexpected error has occurred. Please retry your request later.",
    }),
};

/** Graph's timestamp: ISO 8601 with a `+0000` offset and no milliseconds. */
export function graphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+0000");
}

const PROXY_PAGE = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>" +
  "<body><h1>502 Bad Gateway</h1><p>The upstream server sent an invalid response.</p></body></html>\n";

/** The bytes a malformed-body fault sends instead of `answer`. */
export function malformed(
  variant: "html" | "truncated" | "missing_field" | "empty" | "oversized",
  answer: GraphAnswer,
  bytes = 0,
): { text: string; contentType: string } {
  switch (variant) {
    case "oversized": {
      // Still valid JSON: only its size is wrong.
      const full = JSON.stringify(answer.body);
      return {
        text: full + " ".repeat(Math.max(0, bytes - full.length)),
        contentType: "application/json; charset=UTF-8",
      };
    }
    case "html":
      return { text: PROXY_PAGE, contentType: "text/html; charset=utf-8" };
    case "empty":
      return { text: "", contentType: "application/json; charset=UTF-8" };
    case "truncated": {
      const full = JSON.stringify(answer.body);
      return {
        text: full.slice(0, Math.max(1, Math.floor(full.length / 2))),
        contentType: "application/json; charset=UTF-8",
      };
    }
    case "missing_field":
      return {
        text: JSON.stringify(withoutRequiredField(answer.body)),
        contentType: "application/json; charset=UTF-8",
      };
  }
}

/** Drops a field a client needs: the first item's `name`/`id`, else `data`, else `id`/token. */
function withoutRequiredField(body: unknown): unknown {
  if (!body || typeof body !== "object") return {};
  const copy = structuredClone(body) as Record<string, unknown>;
  const data = copy.data;
  if (Array.isArray(data) && data.length > 0 && data[0] && typeof data[0] === "object") {
    const first = data[0] as Record<string, unknown>;
    // An insight entry without its name, or a post without its id.
    if ("name" in first) delete first.name;
    else if ("id" in first) delete first.id;
    else delete copy.data;
  } else if ("data" in copy) {
    delete copy.data;
  } else if ("access_token" in copy) {
    delete copy.access_token;
  } else {
    delete copy.id;
    delete copy.username;
  }
  return copy;
}
