/**
 * health: checks that a deployment is wired up, for operators and for the local stack.
 *
 * GET or POST with `Authorization: Bearer <CRON_SECRET>`. Answers 200 with the database's
 * time, the latest applied migration and the pg_cron jobs, or 503 when the database cannot
 * be reached. A 401 here means the caller's secret (e.g. Vault's `cron_secret`) differs from
 * the function's CRON_SECRET; a 503 BOOT_ERROR from the platform means the configuration is
 * invalid (the function's log names the variable).
 */
import { getConfig } from "../_shared/platform/config.ts";
import { hasBearerSecret } from "../_shared/platform/auth.ts";
import { preflight } from "../_shared/cors.ts";
import { connect, dbTimeouts } from "../_shared/platform/db.ts";
import {
  errorResponse,
  jsonResponse,
  methodNotAllowed,
  unauthorized,
} from "../_shared/platform/http.ts";

const config = getConfig();
const sql = connect(config.SUPABASE_DB_URL, { max: 1, timeouts: dbTimeouts(config) });

export async function handleHealth(request: Request): Promise<Response> {
  if (request.method === "OPTIONS") return preflight();
  if (request.method !== "GET" && request.method !== "POST") {
    return methodNotAllowed(["GET", "POST", "OPTIONS"]);
  }
  if (!(await hasBearerSecret(request, config.CRON_SECRET))) return unauthorized();
  try {
    const [row] = await sql`
      select now() as server_time,
        (select max(version) from supabase_migrations.schema_migrations) as latest_migration,
        coalesce((select jsonb_agg(jsonb_build_object('name', jobname, 'schedule', schedule,
          'active', active) order by jobname) from cron.job), '[]'::jsonb) as cron_jobs`;
    return jsonResponse(200, {
      status: "ok",
      database: { serverTime: row.server_time, latestMigration: row.latest_migration },
      cronJobs: row.cron_jobs,
      threadsApiBaseUrl: config.THREADS_API_BASE_URL,
    });
  } catch (error) {
    console.error(JSON.stringify({
      event: "health_check_failed",
      error: error instanceof Error ? error.message : String(error),
    }));
    return errorResponse(503, "database_unreachable", "Cannot reach the database: see the log");
  }
}

Deno.serve(handleHealth);
