/**
 * The functions' database connection: postgres.js over SUPABASE_DB_URL, which the platform
 * injects into every function. `prepare: false` because hosted projects may route it through
 * Supabase's transaction pooler, where prepared statements do not survive between transactions.
 */
import postgres from "postgres";

export type Sql = postgres.Sql;

export function connect(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    prepare: false,
    max: options.max ?? 5,
    idle_timeout: 20,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: "threads-sync" },
  });
}
