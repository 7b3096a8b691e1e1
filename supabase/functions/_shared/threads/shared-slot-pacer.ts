/**
 * Pacing shared by every invocation (the functions: `slots` = databaseSlots(sql),
 * api-rate-slots.ts): send times come from Postgres, claimed a handful at a time for the
 * callers waiting, spaced for RATE_SHARE of the rate in force, so every invocation together
 * stays within THREADS_API_MAX_RPS in any one-second window. A caller waits in the FIFO until
 * the next slot's time; a slot missed by more than LATE_SLOT_MS or falling into a pause is
 * dropped, never returned. An app-level pause is recorded for every invocation.
 */
import type { Logger } from "../platform/log.ts";
import { CLAIM_AHEAD_MS, LATE_SLOT_MS, RATE_SHARE, type SlotSource } from "./api-rate-slots.ts";
import { detach, type Pacer, type PacingContext } from "./pacing.ts";

export class SharedSlotPacer implements Pacer {
  readonly #ctx: PacingContext;
  readonly #slots: SlotSource;
  readonly #log?: Logger;
  /** Send times claimed and not yet used, ascending. */
  #held: number[] = [];
  #claiming = false;
  /** The pause being recorded for every invocation; claims wait for it. */
  #pauseWrite: Promise<void> = Promise.resolve();
  #timer: unknown = undefined;
  readonly #counts = { slotClaims: 0, slotsDropped: 0 };

  constructor(ctx: PacingContext, slots: SlotSource, log?: Logger) {
    this.#ctx = ctx;
    this.#slots = slots;
    this.#log = log;
  }

  takeNow(): boolean {
    // Every send waits for a slot, even into an empty queue.
    return false;
  }

  queued(): void {
    this.reschedule();
  }

  reschedule(): void {
    if (this.#timer !== undefined) {
      this.#ctx.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#drain();
  }

  paused(ms: number): void {
    this.#pauseWrite = this.#pauseWrite.then(() => this.#slots.pause(ms)).catch((error) => {
      // This invocation still pauses; the others learn of the limit from their own answers.
      this.#log?.warn("api_pause_not_shared", { pause_ms: ms, error: describe(error) });
    });
  }

  slotCounts() {
    return { ...this.#counts };
  }

  /** Hands due slots to the queue's head, claims more, arms the timer. */
  #drain = (): void => {
    this.#timer = undefined;
    const { clock, queue, maxBatchWaitMs } = this.#ctx;
    const now = clock.now();
    const pausedUntil = this.#ctx.pausedUntil();
    const held = this.#held;
    // A slot may be used up to LATE_SLOT_MS + maxBatchWaitMs after its time: together at
    // most the 52 ms that RATE_SHARE leaves (a send delayed by d keeps any 1 s window within
    // the slots of 1 s + d, which RATE_SHARE spacing holds to the limit while d <= 52 ms).
    while (
      held.length > 0 && (held[0] < now - LATE_SLOT_MS - maxBatchWaitMs || held[0] < pausedUntil)
    ) {
      held.shift();
      this.#counts.slotsDropped++;
    }
    while (queue.length > 0 && held.length > 0 && held[0] <= now) {
      held.shift();
      this.#ctx.release(queue.shift()!, now);
    }
    if (queue.length === 0) return;
    if (this.#shortOfSlots(now) && !this.#claiming && now >= pausedUntil) this.#claim(now);
    // The next slot, or the last of the slots within maxBatchWaitMs of it that callers wait
    // for (one wake-up then lets them all go, never before their time), or the pause's end
    // (held slots are never inside a pause).
    let next = held.length > 0 ? held[0] : undefined;
    for (let i = 1; next !== undefined && i < Math.min(held.length, queue.length); i++) {
      if (held[i] > held[0] + maxBatchWaitMs) break;
      next = held[i];
    }
    if (next === undefined && now < pausedUntil) next = pausedUntil;
    if (next !== undefined) {
      this.#timer = clock.setTimeout(this.#drain, Math.max(1, Math.ceil(next - now)));
    }
  };

  /**
   * Whether to claim: when callers wait beyond the slots held and either no slot is held or the
   * last one held is less than half a claim ahead. Claiming at every shortfall cost a claim (a
   * database round trip, the invocation's CPU) per slot or two, as callers whose answers come
   * back quickly queue again as fast as slots are used; waiting until the held slots run out
   * instead left gaps in the app's schedule (measured: W200 1.08-1.11x its bound against
   * 1.07x). Half a claim ahead keeps the schedule full and claims several slots at a time. The
   * slots held never outnumber the callers waiting: holding more would push every invocation's
   * next slots later.
   */
  #shortOfSlots(now: number): boolean {
    const held = this.#held;
    if (this.#ctx.queue.length <= held.length) return false;
    return held.length === 0 || held[held.length - 1] < now + CLAIM_AHEAD_MS / 2;
  }

  /** Claims enough slots for the callers waiting, at most CLAIM_AHEAD_MS of the rate. */
  #claim(now: number): void {
    const rps = Math.round(this.#ctx.rateAt(now) * RATE_SHARE * 1000) / 1000;
    const batch = Math.max(1, Math.ceil(rps * CLAIM_AHEAD_MS / 1000));
    const count = Math.min(batch, this.#ctx.queue.length - this.#held.length);
    this.#claiming = true;
    this.#counts.slotClaims++;
    this.#pauseWrite.then(() => this.#slots.claim(count, rps)).then(
      (times) => {
        this.#held = [...this.#held, ...times].sort((a, b) => a - b);
      },
      (error) => {
        // Without the shared rate no call may go: the callers fail now, the sync records why.
        const failure = new Error(
          `Cannot pace the Threads API calls as the database did not hand out send times ` +
            `(claim_api_slots): ${describe(error)}`,
        );
        for (const waiter of this.#ctx.queue.splice(0)) {
          detach(waiter);
          waiter.reject(failure);
        }
      },
    ).finally(() => {
      this.#claiming = false;
      this.reschedule();
    });
  }
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}
