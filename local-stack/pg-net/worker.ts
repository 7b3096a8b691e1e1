/**
 * The pg_net stand-in's delivery worker: the part of pg_net that, on a hosted project, is a
 * background worker inside Postgres.
 *
 * It takes committed rows from `net.http_request_queue` (woken by the NOTIFY that
 * `net._enqueue` sends at commit, with a poll as a safety net), sends each request once with
 * its own timeout, and records the outcome in `net._http_response` under the request's id:
 * status, headers and body; or `timed_out`/`error_msg`, never a retry. Responses older than
 * pg_net's TTL (6 hours) are deleted, as pg_net does.
 *
 * Usage: deno run -A local-stack/pg-net/worker.ts <database-url>
 */
import postgres from "postgres";

const BATCH_SIZE = 200; // pg_net's default `pg_net.batch_size`
const POLL_MS = 500;
const TTL = "6 hours"; // pg_net's default `pg_net.ttl`

interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
  timeout_milliseconds: number;
}

interface Outcome {
  id: string;
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean | null;
  error_msg: string | null;
}

/** Sends one request the way pg_net does: one attempt, bounded by its timeout. */
export async function deliver(request: QueuedRequest): Promise<Outcome> {
  const started = performance.now();
  const base = {
    id: request.id,
    status_code: null,
    content_type: null,
    headers: null,
    content: null,
  };
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body === null ? undefined : new Uint8Array(request.body),
      signal: AbortSignal.timeout(request.timeout_milliseconds),
    });
    const content = await response.text();
    return {
      id: request.id,
      status_code: response.status,
      content_type: response.headers.get("content-type"),
      headers: Object.fromEntries(response.headers.entries()),
      content,
      timed_out: false,
      error_msg: null,
    };
  } catch (error) {
    const elapsed = (performance.now() - started).toFixed(2);
    if (error instanceof DOMException && error.name === "TimeoutError") {
      return {
        ...base,
        timed_out: true,
        error_msg:
          `Timeout of ${request.timeout_milliseconds} ms reached. Total time: ${elapsed} ms`,
      };
    }
    // Deno reports "fetch failed" with the socket error as its cause.
    const message = error instanceof Error
      ? [error.message, String((error as { cause?: unknown }).cause ?? "")].join(" ")
      : String(error);
    return {
      ...base,
      timed_out: false,
      error_msg: /refused|ECONNREFUSED/i.test(message)
        ? "Couldn't connect to server"
        : message.trim(),
    };
  }
}

export function startWorker(databaseUrl: string): { stop: () => Promise<void> } {
  const sql = postgres(databaseUrl, { max: 4, onnotice: () => {}, prepare: false });
  let draining = false;
  let again = false;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();

  const record = async (outcome: Outcome) => {
    await sql`
      insert into net._http_response
        (id, status_code, content_type, headers, content, timed_out, error_msg)
      values (${outcome.id}, ${outcome.status_code}, ${outcome.content_type},
        ${outcome.headers === null ? null : sql.json(outcome.headers)}, ${outcome.content},
        ${outcome.timed_out}, ${outcome.error_msg})`;
  };

  // Takes committed requests off the queue and sends them concurrently, as pg_net does.
  const drain = async () => {
    if (draining) {
      again = true;
      return;
    }
    draining = true;
    try {
      do {
        again = false;
        const batch = await sql<QueuedRequest[]>`
          delete from net.http_request_queue
          where id in (select id from net.http_request_queue order by id limit ${BATCH_SIZE}
                       for update skip locked)
          returning id::text, method, url, headers, body, timeout_milliseconds`;
        for (const request of batch) {
          const task = deliver(request).then(record).catch((error) => {
            console.error(`pg_net stand-in: cannot record response ${request.id}: ${error}`);
          });
          inFlight.add(task);
          task.finally(() => inFlight.delete(task));
        }
        if (batch.length === BATCH_SIZE) again = true;
      } while (again && !stopped);
    } catch (error) {
      console.error(`pg_net stand-in: cannot read the request queue: ${error}`);
    } finally {
      draining = false;
    }
  };

  const listening = sql.listen("pg_net_standin", () => void drain());
  const poll = setInterval(() => void drain(), POLL_MS);
  const ttl = setInterval(() => {
    sql`delete from net._http_response where created < now() - ${TTL}::interval`.catch(() => {});
  }, 60_000);
  void drain();

  return {
    stop: async () => {
      stopped = true;
      clearInterval(poll);
      clearInterval(ttl);
      await (await listening).unlisten().catch(() => {});
      await Promise.allSettled([...inFlight]);
      await sql.end({ timeout: 5 });
    },
  };
}

if (import.meta.main) {
  const url = Deno.args[0];
  if (!url) {
    console.error("usage: worker.ts <database-url>");
    Deno.exit(2);
  }
  const worker = startWorker(url);
  console.log(
    `pg_net stand-in: delivering requests queued in ${url.replace(/:[^:@/]+@/, ":***@")}`,
  );
  const shutdown = async () => {
    await worker.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", shutdown);
}
