/**
 * A loopback HTTP server that records the requests it receives and answers as a test tells it
 * (status, body, delay): the far end of pg_net requests and of functions' callbacks.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export interface Recorder {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export function startRecorder(
  answer: (request: RecordedRequest) => { status?: number; body?: string; delayMs?: number } =
    () => ({}),
): Recorder {
  const requests: RecordedRequest[] = [];
  // Delayed answers still waiting; close() ends them at once so the server can shut down.
  const pendingDelays = new Map<ReturnType<typeof setTimeout>, () => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const recorded: RecordedRequest = {
      method: req.method,
      path: new URL(req.url).pathname + new URL(req.url).search,
      headers: Object.fromEntries(req.headers.entries()),
      body: await req.text(),
      at: Date.now(),
    };
    requests.push(recorded);
    const reply = answer(recorded);
    if (reply.delayMs) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          pendingDelays.delete(timer);
          resolve();
        }, reply.delayMs);
        pendingDelays.set(timer, resolve);
      });
    }
    return new Response(reply.body ?? "ok", { status: reply.status ?? 200 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: async () => {
      for (const [timer, resolve] of pendingDelays) {
        clearTimeout(timer);
        resolve();
      }
      await server.shutdown();
    },
  };
}
