/**
 * The request path of one Threads client: every call waits its turn at the shared limiter,
 * runs under a per-attempt timeout and the caller's deadline, is read within the body limit,
 * interpreted (answer.ts) and retried by the policy (retry-policy.ts). Every error leaves
 * through `fail`, so none carries the token.
 */
import { checkDeadline } from "../jobs/deadline.ts";
import type { Logger } from "../platform/log.ts";
import { readBody } from "../platform/read-body.ts";
import { withRetry } from "../platform/retry.ts";
import { type CallSpec, interpretAnswer } from "./answer.ts";
import type { ClientSettings, ThreadsApiStats } from "./client-settings.ts";
import { ThreadsApiError } from "./errors.ts";
import { retryDelays } from "./retry-policy.ts";
import { readUsageHeaders } from "./usage-headers.ts";

export type { CallSpec } from "./answer.ts";

export class ThreadsRequester {
  // Private fields: the token (in the settings) cannot be reached, enumerated or serialised.
  readonly #o: ClientSettings;
  readonly #log: Logger;
  readonly #stats: ThreadsApiStats;
  readonly #signal?: AbortSignal;
  readonly #basePaths = new Map<string, string>();

  constructor(
    settings: ClientSettings,
    log: Logger,
    stats: ThreadsApiStats,
    signal: AbortSignal | undefined,
  ) {
    this.#o = settings;
    this.#log = log;
    this.#stats = stats;
    this.#signal = signal;
  }

  /** Graph ids are numeric strings; anything else is refused before it reaches a URL or a message. */
  checkId(id: string, action: string): string {
    if (id === "me" || /^\d{1,30}$/.test(id)) return id;
    throw this.fail(
      new ThreadsApiError({
        kind: "permanent",
        endpoint: "GET /{id}",
        action,
        reason: "the id is not a numeric Graph id",
      }),
    );
  }

  /**
   * The request URL as a string, serialised once: a URL object set key by key re-serialises
   * itself at every key, which showed in the CPU profile of a sync (one URL per API call).
   */
  target(path: string, params: Record<string, string>, base = this.#o.baseUrl) {
    const query = new URLSearchParams(params);
    // The documented way to pass the token; it must never leave this string.
    query.set("access_token", this.#o.accessToken);
    return { url: `${base}${path}?${query}`, endpoint: `GET ${this.#pathOf(base)}${path}` };
  }

  /** The path part of a base URL (e.g. /v1.0), read once per base. */
  #pathOf(base: string): string {
    let path = this.#basePaths.get(base);
    if (path === undefined) {
      path = new URL(base).pathname.replace(/\/+$/, "");
      this.#basePaths.set(base, path);
    }
    return path;
  }

  /** One logical call: limiter, attempts, classification, retry policy. */
  call<T>(spec: CallSpec<T>): Promise<T> {
    return withRetry((attempt) => this.#attempt(spec, attempt), {
      sleep: this.#o.sleep,
      delayFor: retryDelays(this.#o),
      onRetry: (error, attempt, delayMs) => {
        this.#stats.retries++;
        const e = error as ThreadsApiError;
        this.#log.warn("threads_api_retry", {
          endpoint: e.endpoint,
          kind: e.kind,
          code: e.code,
          status: e.status,
          attempt,
          delay_ms: delayMs,
        });
      },
      onGiveUp: (error, attempts) => {
        const failure = error instanceof ThreadsApiError
          ? (attempts > 1 ? error.afterAttempts(attempts) : error)
          : error;
        return this.fail(failure);
      },
    });
  }

  /**
   * Every error leaves the client through here: counted, and with the exact token removed from
   * all its text (an upstream message may quote it bare, which `redact` cannot recognise).
   */
  fail<E>(error: E): E {
    this.#stats.failures++;
    if (error instanceof ThreadsApiError) return error.withoutSecret(this.#o.accessToken) as E;
    return error;
  }

  /** The body with the token cut out, before any of it can reach a message or a record. */
  #withoutToken(text: string): string {
    const token = this.#o.accessToken;
    // As scrubSecrets: a very short string could be part of ordinary text; tokens are long.
    return token.length < 8 ? text : text.split(token).join("[redacted]");
  }

  async #attempt<T>(spec: CallSpec<T>, attempt: number): Promise<T> {
    checkDeadline(this.#signal, `before calling ${spec.endpoint}`);
    this.#stats.limiterWaitMs += await this.#o.limiter.acquire();
    checkDeadline(this.#signal, `before calling ${spec.endpoint}`);
    this.#stats.calls++;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#o.timeoutMs);
    const stopAtDeadline = () => controller.abort();
    this.#signal?.addEventListener("abort", stopAtDeadline);
    let status: number;
    let headers: Headers;
    let text: string | undefined;
    try {
      const fetchFn = this.#o.fetch; // called unbound: some runtimes reject another `this`
      const response = await fetchFn(spec.url, {
        headers: { accept: "application/json" },
        signal: controller.signal,
      });
      status = response.status;
      headers = response.headers;
      text = await readBody(response, this.#o.maxResponseBytes);
    } catch (error) {
      checkDeadline(this.#signal, `waiting for ${spec.endpoint}`);
      throw new ThreadsApiError({
        kind: "transient",
        endpoint: spec.endpoint,
        action: spec.action,
        attempts: attempt,
        reason: controller.signal.aborted
          ? `no complete answer came within ${this.#o.timeoutMs} ms`
          : `the request failed on the network (${describeNetworkError(error)})`,
      });
    } finally {
      clearTimeout(timer);
      this.#signal?.removeEventListener("abort", stopAtDeadline);
    }
    const usage = readUsageHeaders(headers);
    if (usage.appUsagePercent !== undefined) this.#o.limiter.onUsage(usage.appUsagePercent);
    if (text === undefined) {
      // Not retried: the same request would bring the same body.
      throw new ThreadsApiError({
        kind: "bad_response",
        endpoint: spec.endpoint,
        action: spec.action,
        status,
        reason: `the body was larger than the limit of ${this.#o.maxResponseBytes} bytes ` +
          `(MAX_RESPONSE_BYTES)`,
      });
    }
    const answer = {
      status,
      headers,
      text: this.#withoutToken(text),
      regainAccessMs: usage.regainAccessMs,
    };
    return interpretAnswer(spec, answer, this.#o, this.#stats);
  }
}

/** Deno's fetch errors quote the URL, token included: keep the words, drop every URL. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const cause = (error as { cause?: unknown }).cause;
  const text = cause instanceof Error ? cause.message : error.message;
  return text.replace(/https?:\/\/[^\s)]+/g, "<url>").slice(0, 200);
}
