/**
 * Times as operators type and read them: `--failed-since 2h` or an ISO time in, "4s",
 * "2m05s", "12 min ago" out.
 */
import { UsageError } from "./args.ts";

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * The moment `value` names: a relative age (`90s`, `30m`, `2h`, `7d`: that long before
 * `now`) or an ISO 8601 time (`2026-11-23T10:00:00Z`, `2026-11-23`). Throws a UsageError
 * naming the flag when it is neither, or when it lies in the future.
 */
export function parseSince(value: string, now: Date, flag = "--failed-since"): Date {
  const text = value.trim();
  const relative = /^(\d+(?:\.\d+)?)\s*([smhd])$/i.exec(text);
  let at: Date;
  if (relative) {
    at = new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2].toLowerCase()]);
  } else if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(Date.parse(text))) {
    at = new Date(text);
  } else {
    throw new UsageError(
      `${flag} must be an age like 30m, 2h, 1d or an ISO time like 2026-11-23T10:00:00Z: current value is "${value}"`,
    );
  }
  if (at.getTime() > now.getTime()) {
    throw new UsageError(`${flag} must not be in the future: current value is "${value}"`);
  }
  return at;
}

/** A duration for a table: "0s", "4s", "2m05s", "1h03m", "2d04h". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s % 3600 / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor(s % 86_400 / 3600))}h`;
}

/** How long ago `at` was: "just now", "12 min ago", "3 h ago", "2 d ago", or "never". */
export function formatAge(at: Date | null | undefined, now: Date): string {
  if (!at) return "never";
  const seconds = (now.getTime() - at.getTime()) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** A time of day for a table: "10:45:03" today, "Nov 22 10:45" on another day (local time). */
export function formatClock(at: Date, now: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  if (at.toDateString() === now.toDateString()) return time;
  const month = at.toLocaleString("en-US", { month: "short" });
  return `${month} ${at.getDate()} ${time.slice(0, 5)}`;
}
