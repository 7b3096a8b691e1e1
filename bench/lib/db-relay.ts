/**
 * Time in the database: a TCP relay in front of Postgres that times each connection's requests,
 * so a benchmark measures "time in the database" the same way for every design it compares,
 * bookkeeping queries included.
 */
export interface DbProxyStats {
  /** Sum over connections of the time a request was outstanding (connection-milliseconds). */
  busyMs: number;
  /** Requests completed (ReadyForQuery messages), connection start-ups included. */
  roundTrips: number;
  connections: number;
  /** Connections whose protocol could not be followed (TLS); their time is not counted. */
  unmeasured: number;
}

/**
 * A TCP relay on 127.0.0.1 in front of Postgres. A connection is busy from the first byte of a
 * request it sends while idle until the server's ReadyForQuery ('Z') that answers its last
 * outstanding Sync or Query. postgres.js with `prepare: false` sends Parse/Describe/Flush, then
 * Bind/Execute/Sync: both legs fall inside one busy interval. So busy time is what the caller
 * waits on the database (server work plus the loopback round trips), summed over connections.
 */
export function startDbProxy(dbUrl: string) {
  const target = new URL(dbUrl);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let stats: DbProxyStats = { busyMs: 0, roundTrips: 0, connections: 0, unmeasured: 0 };

  const relay = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: target.hostname, port: Number(target.port || 5432) });
    } catch {
      client.close();
      return;
    }
    open.add(client).add(server);
    stats.connections++;
    let busySince: number | undefined;
    let outstanding = 0;
    let measured = true;
    const fromClient = new Framer(true);
    const fromServer = new Framer(false);
    const up = pump(client, server, (chunk) => {
      if (!measured) return;
      busySince ??= performance.now();
      fromClient.feed(chunk, (type, length) => {
        if (type === 0 && length === 8) {
          // SSLRequest/GSSENCRequest: the rest would be encrypted.
          measured = false;
          stats.unmeasured++;
        }
        // 'S' Sync and 'Q' Query each get one ReadyForQuery.
        if (type === 0x53 || type === 0x51) outstanding++;
      });
    });
    const down = pump(server, client, (chunk) => {
      if (!measured) return;
      fromServer.feed(chunk, (type) => {
        if (type !== 0x5a) return;
        stats.roundTrips++;
        outstanding = Math.max(0, outstanding - 1);
        if (outstanding === 0 && busySince !== undefined) {
          stats.busyMs += performance.now() - busySince;
          busySince = undefined;
        }
      });
    });
    await Promise.allSettled([up, down]);
    for (const conn of [client, server]) {
      open.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };

  (async () => {
    try {
      for await (const client of listener) relay(client);
    } catch { /* listener closed */ }
  })();

  const url = new URL(dbUrl);
  url.host = `127.0.0.1:${listener.addr.port}`;
  return {
    url: url.toString(),
    reset: () => stats = { busyMs: 0, roundTrips: 0, connections: 0, unmeasured: 0 },
    stats: (): DbProxyStats => ({ ...stats }),
    close: () => {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      return Promise.resolve();
    },
  };
}

async function pump(from: Deno.Conn, to: Deno.Conn, onChunk: (chunk: Uint8Array) => void) {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      const chunk = buffer.subarray(0, n);
      onChunk(chunk);
      for (let sent = 0; sent < n;) sent += await to.write(chunk.subarray(sent));
    }
  } finally {
    try {
      to.closeWrite();
    } catch { /* closed */ }
  }
}

/**
 * Splits a Postgres protocol byte stream into messages (type byte + int32 length, the first
 * client message untyped) and reports each message's type (0 when untyped) and length.
 */
class Framer {
  #header = new Uint8Array(5);
  #have = 0;
  #skip = 0;
  constructor(private untyped: boolean) {}

  feed(chunk: Uint8Array, onMessage: (type: number, length: number) => void) {
    for (let i = 0; i < chunk.length;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const size = this.untyped ? 4 : 5;
      this.#header[this.#have++] = chunk[i++];
      if (this.#have < size) continue;
      const o = size - 4;
      const length = ((this.#header[o] << 24) | (this.#header[o + 1] << 16) |
        (this.#header[o + 2] << 8) | this.#header[o + 3]) >>> 0;
      onMessage(this.untyped ? 0 : this.#header[0], length);
      this.#skip = length - 4;
      this.#have = 0;
      this.untyped = false;
    }
  }
}
