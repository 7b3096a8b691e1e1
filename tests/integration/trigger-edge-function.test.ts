// public.trigger_edge_function: reads the project URL and cron secret from Vault, queues one
// authenticated POST through pg_net, fails clearly without its secrets, and is closed to the
// API roles.
import { assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { testDb, testStack } from "../helpers/stack.ts";
import type postgres from "postgres";

/** Runs `fn` in a transaction that is always rolled back, so Vault and the queue stay as they were. */
async function inRolledBackTransaction(
  sql: postgres.Sql,
  fn: (tx: postgres.TransactionSql) => Promise<void>,
) {
  await sql.begin(async (tx) => {
    await fn(tx);
    throw new RollBack();
  }).catch((error) => {
    if (!(error instanceof RollBack)) throw error;
  });
}
class RollBack extends Error {}

Deno.test("trigger_edge_function queues a POST carrying the Vault cron secret as bearer token", async () => {
  const stack = await testStack();
  const sql = await testDb();
  try {
    await inRolledBackTransaction(sql, async (tx) => {
      const [{ id }] = await tx`select public.trigger_edge_function('health', '{"probe":1}') as id`;
      const [request] = await tx`select method, url, headers, convert_from(body, 'UTF8') as body,
        timeout_milliseconds from net.http_request_queue where id = ${id}`;
      assertEquals(request.method, "POST");
      assertEquals(request.url, `${stack.apiUrl}/functions/v1/health`);
      assertEquals(request.headers.Authorization, `Bearer ${stack.cronSecret}`);
      assertEquals(JSON.parse(request.body), { probe: 1 });
      assertEquals(request.timeout_milliseconds, 10000);
    });
  } finally {
    await sql.end();
  }
});

for (const secret of ["project_url", "cron_secret"]) {
  Deno.test(`trigger_edge_function raises TS101 naming the missing Vault secret ${secret}`, async () => {
    const sql = await testDb();
    try {
      await inRolledBackTransaction(sql, async (tx) => {
        await tx`delete from vault.secrets where name = ${secret}`;
        const error = await assertRejects(() => tx`select public.trigger_edge_function('health')`);
        assertEquals((error as postgres.PostgresError).code, "TS101");
        assertMatch(error.message, new RegExp(`Vault secret "${secret}" is missing`));
      });
    } finally {
      await sql.end();
    }
  });
}

Deno.test("trigger_edge_function refuses a function name that is not one", async () => {
  const sql = await testDb();
  try {
    const error = await assertRejects(() => sql`select public.trigger_edge_function('../admin')`);
    assertEquals((error as postgres.PostgresError).code, "TS102");
  } finally {
    await sql.end();
  }
});

for (const role of ["anon", "authenticated"]) {
  Deno.test(`trigger_edge_function cannot be executed by ${role}`, async () => {
    const sql = await testDb();
    try {
      await inRolledBackTransaction(sql, async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        const error = await assertRejects(() => tx`select public.trigger_edge_function('health')`);
        assertEquals((error as postgres.PostgresError).code, "42501"); // insufficient_privilege
      });
    } finally {
      await sql.end();
    }
  });
}
