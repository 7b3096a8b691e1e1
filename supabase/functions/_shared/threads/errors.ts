/**
 * The one error class of the Threads client, and the error an HTTP answer stands for. The
 * kind comes from error-kinds.ts.
 *
 * Messages follow "Cannot <do X> (<endpoint>) as <reason>: <codes>" and never carry a token:
 * everything that came from outside is passed through `redact` first.
 */
import { redact } from "../platform/log.ts";
import { scrubSecrets } from "../platform/scrub-secrets.ts";
import {
  classifyGraphError,
  classifyHttpStatus,
  type RateLimitScope,
  rateLimitScope,
  reasonFor,
  type ThreadsErrorKind,
} from "./error-kinds.ts";
import { graphErrorBodySchema } from "./schemas.ts";

export interface ThreadsApiErrorInit {
  kind: ThreadsErrorKind;
  /** Method and path, no query: `GET /me/threads`. */
  endpoint: string;
  /** What was being done, as a verb phrase: "list the account's threads". */
  action: string;
  /** Defaults to `reasonFor(kind, code, subcode)`. */
  reason?: string;
  status?: number;
  code?: number;
  subcode?: number;
  fbtraceId?: string;
  retryAfterMs?: number;
  /** The API's own words, kept apart from our message (localised, sometimes long). */
  graphMessage?: string;
  attempts?: number;
}

/** Every failure of the client, whatever its cause, is one of these. */
export class ThreadsApiError extends Error {
  override readonly name = "ThreadsApiError";
  readonly kind: ThreadsErrorKind;
  readonly endpoint: string;
  readonly action: string;
  readonly reason: string;
  readonly status?: number;
  readonly code?: number;
  readonly subcode?: number;
  readonly fbtraceId?: string;
  readonly retryAfterMs?: number;
  readonly graphMessage?: string;
  readonly attempts: number;

  constructor(init: ThreadsApiErrorInit) {
    const reason = clean(init.reason ?? reasonFor(init.kind, init.code, init.subcode));
    const attempts = init.attempts ?? 1;
    super(composeMessage(init, reason, attempts));
    this.kind = init.kind;
    this.endpoint = clean(init.endpoint);
    this.action = init.action;
    this.reason = reason;
    this.status = init.status;
    this.code = init.code;
    this.subcode = init.subcode;
    this.fbtraceId = init.fbtraceId === undefined ? undefined : clean(init.fbtraceId);
    this.retryAfterMs = init.retryAfterMs;
    this.graphMessage = init.graphMessage === undefined
      ? undefined
      : clean(init.graphMessage).slice(0, 300);
    this.attempts = attempts;
  }

  /** The same failure, reported after `attempts` tries (the message says so). */
  afterAttempts(attempts: number): ThreadsApiError {
    return new ThreadsApiError({
      kind: this.kind,
      endpoint: this.endpoint,
      action: this.action,
      reason: this.reason,
      status: this.status,
      code: this.code,
      subcode: this.subcode,
      fbtraceId: this.fbtraceId,
      retryAfterMs: this.retryAfterMs,
      graphMessage: this.graphMessage,
      attempts,
    });
  }

  /**
   * The same failure with `secret` removed from every text it carries. `redact` only knows
   * tokens by shape; an upstream message can quote the bare token ("Cannot parse access
   * token: THAA..."), so the holder of the token removes that exact string.
   */
  withoutSecret(secret: string): ThreadsApiError {
    const scrub = (text: string | undefined) =>
      text === undefined ? undefined : scrubSecrets(text, secret);
    return new ThreadsApiError({
      kind: this.kind,
      endpoint: scrub(this.endpoint)!,
      action: scrub(this.action)!,
      reason: scrub(this.reason),
      status: this.status,
      code: this.code,
      subcode: this.subcode,
      fbtraceId: scrub(this.fbtraceId),
      retryAfterMs: this.retryAfterMs,
      graphMessage: scrub(this.graphMessage),
      attempts: this.attempts,
    });
  }

  /** Worth trying again later in the same run. */
  get retryable(): boolean {
    return this.kind === "transient" || this.kind === "rate_limited";
  }
}

/**
 * The error an HTTP answer stands for, or undefined when it is not one: a Graph error body
 * (on any status) is classified by its code, any other 4xx/5xx by its status. `retryAfterMs`
 * (the wait the API named), else `defaultWaitMs` for the limit's scope, is attached to
 * rate-limit errors only.
 */
export function errorFromAnswer(answer: {
  endpoint: string;
  action: string;
  status: number;
  json: unknown;
  retryAfterMs?: number;
  defaultWaitMs?: Record<RateLimitScope, number>;
}): ThreadsApiError | undefined {
  const graph = graphErrorBodySchema.safeParse(answer.json);
  if (!graph.success && answer.status < 400) return undefined;
  const e = graph.success ? graph.data.error : undefined;
  const kind = e
    ? classifyGraphError(e.code, e.error_subcode, answer.status)
    : classifyHttpStatus(answer.status);
  return new ThreadsApiError({
    kind,
    endpoint: answer.endpoint,
    action: answer.action,
    status: answer.status,
    code: e?.code,
    subcode: e?.error_subcode,
    fbtraceId: e?.fbtrace_id,
    graphMessage: e?.message,
    retryAfterMs: kind === "rate_limited"
      ? answer.retryAfterMs ?? answer.defaultWaitMs?.[rateLimitScope(e?.code)]
      : undefined,
    reason: e || kind !== "permanent"
      ? undefined
      : `the API answered HTTP ${answer.status} without a Graph error body`,
  });
}

function composeMessage(init: ThreadsApiErrorInit, reason: string, attempts: number): string {
  const facts: string[] = [];
  if (init.code !== undefined) {
    facts.push(`Graph code ${init.code}${init.subcode === undefined ? "" : `/${init.subcode}`}`);
  }
  if (init.status !== undefined) facts.push(`HTTP ${init.status}`);
  if (init.retryAfterMs !== undefined) facts.push(`retry after ${init.retryAfterMs} ms`);
  if (attempts > 1) facts.push(`after ${attempts} attempts`);
  const tail = facts.length > 0 ? `: ${facts.join(", ")}` : "";
  return clean(`Cannot ${init.action} (${init.endpoint}) as ${reason}${tail}`);
}

function clean(text: string): string {
  return redact(text) as string;
}
