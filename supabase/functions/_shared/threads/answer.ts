/**
 * What one HTTP answer of the Threads API means: the validated value, or the `ThreadsApiError`
 * it stands for. A rate-limit answer is also reported to the shared limiter here, so every
 * caller slows down, not only the one that was refused.
 */
import type { z } from "zod";
import { parseRetryAfter } from "../platform/retry.ts";
import {
  type ClientSettings,
  MAX_STATED_WAIT_MS,
  type ThreadsApiStats,
} from "./client-settings.ts";
import { rateLimitScope } from "./error-kinds.ts";
import { errorFromAnswer, ThreadsApiError } from "./errors.ts";
import { describeIssues } from "./schemas.ts";

/** One request: what it does, where it goes, and the shape its answer must have. */
export interface CallSpec<T> {
  action: string;
  /** Carries the token: never logged, never in an error (`endpoint` is). */
  url: string;
  /** The path shown in errors and logs; no query, so no token. */
  endpoint: string;
  schema: z.ZodType<T>;
}

/** A complete answer, its body already cut free of the token. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The wait a usage header named (x-business-use-case-usage), if any. */
  regainAccessMs: number | undefined;
}

/** The answer's value per `spec.schema`, or the error it stands for (thrown). */
export function interpretAnswer<T>(
  spec: CallSpec<T>,
  answer: Answer,
  settings: ClientSettings,
  stats: ThreadsApiStats,
): T {
  const { status, text } = answer;
  let json: unknown = undefined;
  let isJson = false;
  try {
    json = JSON.parse(text);
    isJson = true;
  } catch {
    // Judged below: an error status explains itself, a 200 with junk is a bad response.
  }
  const stated = parseRetryAfter(answer.headers.get("retry-after")) ?? answer.regainAccessMs;
  const named = stated === undefined ? undefined : Math.min(stated, MAX_STATED_WAIT_MS);
  const base = { endpoint: spec.endpoint, action: spec.action, status };
  const limiter = settings.limiter;
  const error = errorFromAnswer({
    ...base,
    json,
    retryAfterMs: named,
    // No named wait: the app's budget returns after the shared cool-down; one account's
    // budget is deferred (a minute).
    defaultWaitMs: { app: limiter.coolDownMs, account: settings.rateLimitFallbackMs },
  });
  if (error?.kind === "rate_limited") {
    stats.rateLimitErrors++;
    // The limiter gets only a wait the API named; otherwise it uses its own cool-down.
    limiter.onRateLimited({ retryAfterMs: named, scope: rateLimitScope(error.code) });
  }
  if (error) throw error;
  if (!isJson) {
    throw new ThreadsApiError({
      ...base,
      kind: "bad_response",
      reason: /^\s*</.test(text)
        ? "the body was HTML, not JSON (a proxy or error page?)"
        : `the body was not valid JSON (${text.length} bytes${
          text.length === 0 ? "" : ", possibly truncated"
        })`,
    });
  }
  const parsed = spec.schema.safeParse(json);
  if (!parsed.success) {
    throw new ThreadsApiError({
      ...base,
      kind: "bad_response",
      reason: `the body did not have the documented shape: ${describeIssues(parsed.error)}`,
    });
  }
  return parsed.data;
}
