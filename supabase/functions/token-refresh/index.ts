/**
 * token-refresh: refreshes the long-lived Threads tokens that expire within
 * TOKEN_REFRESH_WINDOW_DAYS (15), daily. Called by pg_cron through
 * public.trigger_edge_function('token-refresh') at 03:07 UTC, by operators with the cron
 * secret, and by itself when a run hands off. See _shared/token-refresh/handler.ts.
 */
import { databaseSlots } from "../_shared/threads/api-rate-slots.ts";
import { getConfig } from "../_shared/platform/config.ts";
import { connect, dbTimeouts } from "../_shared/platform/db.ts";
import { createLogger } from "../_shared/platform/log.ts";
import { RateLimiter } from "../_shared/threads/rate-limiter.ts";
import { createTokenRefreshHandler } from "../_shared/token-refresh/handler.ts";
import { loadTokenRefreshConfig } from "../_shared/token-refresh/config.ts";

const config = getConfig();
// One connection per worker slot, plus the heartbeat's.
const sql = connect(config.SUPABASE_DB_URL, {
  max: config.SYNC_BATCH_SIZE + 2,
  timeouts: dbTimeouts(config),
});
const log = createLogger({ function: "token-refresh" });

Deno.serve(createTokenRefreshHandler({
  config,
  refreshConfig: loadTokenRefreshConfig(Deno.env.toObject()),
  sql,
  // The app's one API rate, shared with every other invocation (_shared/threads/api-rate-slots.ts).
  limiter: new RateLimiter({
    maxRps: config.THREADS_API_MAX_RPS,
    slots: databaseSlots(sql),
    log,
  }),
  log,
}));
