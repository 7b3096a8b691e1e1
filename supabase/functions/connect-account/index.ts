/**
 * connect-account: connects a Threads account to a workspace (checking its token against the
 * API, storing it encrypted as the primary token), reconnects one with a new token, or
 * deactivates one. Called by operators with CONNECT_ACCOUNT_SECRET, e.g. through
 * `npm run connect-account` (cli/connect-account.ts). See
 * _shared/connect-account/handler.ts for the contract.
 */
import { databaseSlots } from "../_shared/threads/api-rate-slots.ts";
import { getConfig } from "../_shared/platform/config.ts";
import { createConnectAccountHandler } from "../_shared/connect-account/handler.ts";
import { loadConnectAccountConfig } from "../_shared/connect-account/config.ts";
import { connect, dbTimeouts } from "../_shared/platform/db.ts";
import { createLogger } from "../_shared/platform/log.ts";
import { RateLimiter } from "../_shared/threads/rate-limiter.ts";

const config = getConfig();
const sql = connect(config.SUPABASE_DB_URL, { max: 2, timeouts: dbTimeouts(config) });
const log = createLogger({ function: "connect-account" });

Deno.serve(createConnectAccountHandler({
  config,
  secret: loadConnectAccountConfig(Deno.env.toObject()).CONNECT_ACCOUNT_SECRET,
  sql,
  // Checking a token spends the app's one API rate too (_shared/threads/api-rate-slots.ts).
  limiter: new RateLimiter({
    maxRps: config.THREADS_API_MAX_RPS,
    slots: databaseSlots(sql),
    log,
  }),
  log,
}));
