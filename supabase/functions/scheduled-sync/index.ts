/**
 * scheduled-sync: the 15-minute sync of every active Threads account, and manual syncs.
 * Called by pg_cron through public.trigger_edge_function('scheduled-sync'), by operators
 * with the cron secret, and by itself when a run hands off (see _shared/sync-handler.ts).
 */
import { getConfig } from "../_shared/config.ts";
import { connect, dbTimeouts } from "../_shared/db.ts";
import { createLogger } from "../_shared/log.ts";
import { BATCHED_WAKE_MS, RateLimiter } from "../_shared/rate-limiter.ts";
import { createSyncHandler } from "../_shared/sync-handler.ts";

const config = getConfig();

Deno.serve(createSyncHandler({
  config,
  // One connection per worker slot, plus the heartbeat's.
  sql: connect(config.SUPABASE_DB_URL, {
    max: config.SYNC_BATCH_SIZE + 2,
    timeouts: dbTimeouts(config),
  }),
  // One limiter for every account of the invocation: they share the API budget. Its waiters
  // are woken in small batches: each wake-up costs CPU, which hosted workers have 2 s of.
  limiter: new RateLimiter({ maxRps: config.THREADS_API_MAX_RPS, maxBatchWaitMs: BATCHED_WAKE_MS }),
  log: createLogger({ function: "scheduled-sync" }),
}));
