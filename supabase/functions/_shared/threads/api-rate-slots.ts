/**
 * The app's Threads API rate, shared by every invocation through Postgres.
 *
 * THREADS_API_MAX_RPS is one ceiling for the whole app, but invocations share nothing but the
 * database. So send times are handed out there (claim_api_slots, migration
 * 20261130005000_api_rate_slots): one row holds the next free time; a claim takes the next
 * few slots, each 1/rps after the one before whoever claimed it, and moves the row on. The
 * limiter (rate-limiter.ts) claims a handful at a time, about CLAIM_AHEAD_MS worth, so the
 * database is asked a few times a second, not once per request; it sends on each slot at its
 * time and drops the slots it cannot use. An app-level rate-limit answer pauses every caller
 * (pause_api_calls): no slot is handed out before the pause ends.
 */
import type { Sql } from "../platform/db.ts";

/** Where a limiter gets its send times from. */
export interface SlotSource {
  /** The next `count` send times (ms since the epoch, ascending), at most `rps` per second. */
  claim(count: number, rps: number): Promise<number[]>;
  /** No slot for anyone until `ms` from now. */
  pause(ms: number): Promise<void>;
}

/**
 * Claims ask for this share of the rate. A slot is a send time, not an arrival time: network
 * jitter (and the lateness below) can move two sends closer on arrival than they were sent.
 * Slots 1/(0.95 x rps) apart put at most rps of them into any window of 1000 / 0.95 = 1052 ms,
 * so up to 52 ms of such shifts still keep every one-second window of arrivals within rps,
 * whatever rps is. 5% of the rate is the price; a strict API charges more for each refusal.
 */
export const RATE_SHARE = 0.95;

/**
 * A slot is used at most this late (a busy event loop fires timers late), else dropped: a late
 * send eats into the 52 ms above, and the rest (37 ms) is left for the network and clocks.
 */
export const LATE_SLOT_MS = 15;

/**
 * How far ahead a claim reaches: enough slots for this long at the current rate (at 190/s,
 * 29 slots: one claim per 150 ms of sending). Longer means fewer claims but more slots lost
 * when callers stop needing them; the database row takes a few claims a second with ease.
 */
export const CLAIM_AHEAD_MS = 150;

/**
 * The send times handed out by claim_api_slots() over `sql` (the function's own connection),
 * moved onto this process's clock. The database's clock is the one all invocations share: each
 * claim also reads it, and the offset measured on the claim with the shortest round trip so
 * far (the most exact) turns slot times into local ones, so a host clock a few ms off does not
 * shift this invocation's sends against the others'.
 */
export function databaseSlots(sql: Sql, now: () => number = Date.now): SlotSource {
  let best = { roundTripMs: Number.POSITIVE_INFINITY, offsetMs: 0 };
  return {
    async claim(count, rps) {
      const sent = now();
      const rows = await sql<{ at: number; db_now: number }[]>`
        select (extract(epoch from s.at) * 1000)::float8 as at,
          (extract(epoch from clock_timestamp()) * 1000)::float8 as db_now
        from unnest(public.claim_api_slots(${count}::integer, ${rps}::numeric)) with ordinality
          as s (at, n)
        order by s.n`;
      const received = now();
      if (rows.length > 0 && received - sent <= best.roundTripMs) {
        best = { roundTripMs: received - sent, offsetMs: rows[0].db_now - (sent + received) / 2 };
      }
      return rows.map((row) => row.at - best.offsetMs);
    },
    async pause(ms) {
      await sql`select public.pause_api_calls(${Math.ceil(ms)} * interval '1 millisecond')`;
    },
  };
}
