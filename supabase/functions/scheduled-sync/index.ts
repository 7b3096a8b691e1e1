/**
 * scheduled-sync: the 15-minute sync of every active Threads account, and manual syncs.
 * Called by pg_cron through public.trigger_edge_function('scheduled-sync'), by operators
 * with the cron secret, and by itself when a run hands off (see _shared/scheduled-sync/handler.ts).
 */
import { databaseSlots } from "../_shared/threads/api-rate-slots.ts";
import { getConfig } from "../_shared/platform/config.ts";
import { connect, dbTimeouts } from "../_shared/platform/db.ts";
import { createLogger } from "../_shared/platform/log.ts";
import { BATCHED_WAKE_MS, RateLimiter } from "../_shared/threads/rate-limiter.ts";
import { createSyncHandler } from "../_shared/scheduled-sync/handler.ts";

const config = getConfig();
// One connection per worker slot, plus the heartbeat's.
const sql = connect(config.SUPABASE_DB_URL, {
  max: config.SYNC_BATCH_SIZE + 2,
  timeouts: dbTimeouts(config),
});
const log = createLogger({ function: "scheduled-sync" });

Deno.serve(createSyncHandler({
  config,
  sql,
  // One limiter for every account of the invocation, its send times shared with every other
  // invocation of the app through the database (_shared/threads/api-rate-slots.ts).
  // Its waiters are woken in small batches: each wake-up costs CPU, which hosted workers have
  // 2 s of.
  limiter: new RateLimiter({
    maxRps: config.THREADS_API_MAX_RPS,
    slots: databaseSlots(sql),
    maxBatchWaitMs: BATCHED_WAKE_MS,
    log,
  }),
  log,
}));
