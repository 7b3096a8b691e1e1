/**
 * Structured logs: one JSON object per line per event, which the Supabase dashboard's log
 * explorer shows and filters by field. Every line of a run carries its `run_id`; loggers are
 * scoped (`logger.child({ account_id })`) so a field is set once, not at every call.
 *
 * Tokens never reach a log: fields whose name says token or secret are dropped, and any
 * `access_token=...` inside a string (a Graph `paging.next` URL, say) is redacted.
 */
export type LogLevel = "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const SECRET_KEY = /token|secret|authorization|password/i;
const TOKEN_IN_TEXT = /(access_token=)[^&\s"']+/gi;
const BEARER_IN_TEXT = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;

/** Removes secrets from a value before it is written anywhere. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") {
    return value.replace(TOKEN_IN_TEXT, "$1[redacted]").replace(BEARER_IN_TEXT, "$1[redacted]");
  }
  if (value instanceof Error) return redact(value.message, depth);
  if (Array.isArray(value)) return depth > 4 ? "[…]" : value.map((v) => redact(v, depth + 1));
  if (value && typeof value === "object") {
    if (depth > 4) return "[…]";
    return Object.fromEntries(
      Object.entries(value).filter(([k]) => !SECRET_KEY.test(k) || /_count$|_at$/.test(k))
        .map(([k, v]) => [k, redact(v, depth + 1)]),
    );
  }
  return value;
}

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Where lines go: the console, which the platform collects (tests may capture it). */
export type LogSink = (level: LogLevel, line: string) => void;

const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

export function createLogger(base: LogFields = {}, sink: LogSink = consoleSink): Logger {
  const write = (level: LogLevel, event: string, fields: LogFields = {}) => {
    const record = redact({ level, event, ...base, ...fields, ts: new Date().toISOString() });
    sink(level, JSON.stringify(record));
  };
  return {
    info: (event, fields) => write("info", event, fields),
    warn: (event, fields) => write("warn", event, fields),
    error: (event, fields) => write("error", event, fields),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}
