/** Instants as the Graph API's `since`/`until` take them: whole seconds since the epoch. */

/** `since` on /threads must be >= this (Threads' launch); user insights reject earlier than the second. */
export const THREADS_EPOCH_S = 1688540400;
export const USER_INSIGHTS_EPOCH_S = 1712991600;

export function toMs(value: Date | number): number {
  return value instanceof Date ? value.getTime() : value;
}

/** Whole seconds of `ms`, at least `floor`. */
export function epochSeconds(ms: number, floor = 0): number {
  return Math.max(floor, Math.floor(ms / 1000));
}
