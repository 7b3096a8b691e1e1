// The pg_net stand-in behaves like pg_net: requests leave only after commit, once, and every
// outcome (answer, error status, timeout, refused connection) lands in net._http_response.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { eventually, testDb } from "../helpers/stack.ts";
import { startRecorder } from "../helpers/http-recorder.ts";
import type postgres from "postgres";

interface ResponseRow {
  status_code: number | null;
  content: string | null;
  timed_out: boolean | null;
  error_msg: string | null;
}

function responseOf(sql: postgres.Sql, id: string, timeoutMs = 10_000) {
  return eventually(`the response to request ${id}`, async () => {
    const rows = await sql<ResponseRow[]>`
      select status_code, content, timed_out, error_msg from net._http_response where id = ${id}`;
    return rows[0];
  }, timeoutMs);
}

async function post(
  sql: postgres.Sql | postgres.TransactionSql,
  url: string,
  body: unknown,
  timeoutMs = 5000,
) {
  const [row] = await sql`select net.http_post(${url}, ${sql.json(body as postgres.JSONValue)},
    timeout_milliseconds => ${timeoutMs})::text as id`;
  return row.id as string;
}

Deno.test("pg_net stand-in delivers a committed request and records the answer", async () => {
  const sql = await testDb();
  const server = startRecorder(() => ({ status: 200, body: '{"pong":true}' }));
  try {
    const id = await post(sql, `${server.url}/ping`, { hello: "world" });
    const response = await responseOf(sql, id);
    assertEquals(response.status_code, 200);
    assertEquals(response.content, '{"pong":true}');
    assertEquals(server.requests.length, 1);
    assertEquals(server.requests[0].method, "POST");
    assertEquals(JSON.parse(server.requests[0].body), { hello: "world" });
    assertEquals(server.requests[0].headers["content-type"], "application/json");
  } finally {
    await server.close();
    await sql.end();
  }
});

Deno.test("pg_net stand-in sends nothing for a rolled-back call", async () => {
  const sql = await testDb();
  const server = startRecorder();
  try {
    let rolledBackId = "";
    await sql.begin(async (tx) => {
      rolledBackId = await post(tx, `${server.url}/rolled-back`, {});
      throw new Error("roll back");
    }).catch(() => {});
    // Requests are sent in id order: once a later committed one has arrived, the rolled-back
    // one would have arrived too.
    const markerId = await post(sql, `${server.url}/marker`, {});
    await responseOf(sql, markerId);
    assert(Number(rolledBackId) < Number(markerId));
    assertEquals(server.requests.map((r) => r.path), ["/marker"]);
    const [{ count }] =
      await sql`select count(*)::int from net._http_response where id = ${rolledBackId}`;
    assertEquals(count, 0);
  } finally {
    await server.close();
    await sql.end();
  }
});

Deno.test("pg_net stand-in records a slow endpoint as a timeout", async () => {
  const sql = await testDb();
  const server = startRecorder(() => ({ delayMs: 3000 }));
  try {
    const id = await post(sql, `${server.url}/slow`, {}, 300);
    const response = await responseOf(sql, id);
    assertEquals(response.status_code, null);
    assertEquals(response.timed_out, true);
    assertMatch(response.error_msg ?? "", /^Timeout of 300 ms reached/);
  } finally {
    await server.close();
    await sql.end();
  }
});

Deno.test("pg_net stand-in records a non-2xx status and its body", async () => {
  const sql = await testDb();
  const server = startRecorder(() => ({ status: 401, body: '{"error":"unauthorized"}' }));
  try {
    const id = await post(sql, `${server.url}/denied`, {});
    const response = await responseOf(sql, id);
    assertEquals(response.status_code, 401);
    assertEquals(response.content, '{"error":"unauthorized"}');
    assertEquals(response.error_msg, null);
  } finally {
    await server.close();
    await sql.end();
  }
});

Deno.test("pg_net stand-in records a refused connection as an error, without retrying", async () => {
  const sql = await testDb();
  // A port that was just free: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  try {
    const id = await post(sql, `http://127.0.0.1:${port}/nobody`, {});
    const response = await responseOf(sql, id);
    assertEquals(response.status_code, null);
    assertEquals(response.error_msg, "Couldn't connect to server");
  } finally {
    await sql.end();
  }
});

Deno.test("pg_net stand-in delivers every one of many requests queued in one transaction", async () => {
  const sql = await testDb();
  const server = startRecorder();
  const count = 300;
  try {
    const ids = await sql.begin(async (tx) => {
      const rows =
        await tx`select net.http_post(${server.url} || '/bulk/' || n, jsonb_build_object('n', n))::text as id
        from generate_series(1, ${count}) as n`;
      return rows.map((r) => r.id as string);
    });
    await eventually("every bulk response", async () => {
      const [{ done }] = await sql`select count(*)::int as done from net._http_response
        where id = any(${ids}::bigint[]) and status_code = 200`;
      return done === count ? done : undefined;
    }, 30_000);
    assertEquals(server.requests.length, count);
    assertEquals(new Set(server.requests.map((r) => r.path)).size, count);
  } finally {
    await server.close();
    await sql.end();
  }
});
