/**
 * One function invocation's process: the local counterpart of an Edge Runtime worker.
 *
 * It provides the platform globals a function expects (`EdgeRuntime.waitUntil`, the
 * `beforeunload` event before a wall-clock shutdown), then imports the function's index.ts
 * unmodified. The function's `Deno.serve(handler)` is redirected to an ephemeral port on
 * 127.0.0.1 which the host proxies the request to. The host talks to this process through
 * marker lines on stdout (ready, idle), so the function's own console output is untouched.
 *
 * Usage (by host.ts only): deno run -A invocation.ts <path/to/index.ts> <wall-clock-limit-ms>
 */
import { pathToFileURL } from "node:url";

/** Marker lines: a NUL byte cannot appear in a function's ordinary log output by accident. */
export const READY_MARKER = "\u0000functions-host:ready:";
export const IDLE_MARKER = "\u0000functions-host:idle";

type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

if (import.meta.main) {
  const [entry, limitArg] = Deno.args;
  const wallClockLimitMs = Number(limitArg);
  const pending = new Set<Promise<unknown>>();
  let handlerDone = false;

  const reportIdleWhenSettled = () => {
    if (handlerDone && pending.size === 0) console.log(IDLE_MARKER);
  };

  // The platform's API for background work that must outlive the response.
  Object.defineProperty(globalThis, "EdgeRuntime", {
    value: Object.freeze({
      waitUntil(promise: Promise<unknown>) {
        const tracked = Promise.resolve(promise).catch((error) => {
          console.error(`EdgeRuntime.waitUntil: background work failed: ${error?.stack ?? error}`);
        }).finally(() => {
          pending.delete(tracked);
          reportIdleWhenSettled();
        });
        pending.add(tracked);
        return promise;
      },
    }),
  });

  // Like the Edge Runtime, warn the function shortly before the wall-clock limit kills it.
  const warnMs = Math.max(0, wallClockLimitMs - 250);
  const warnTimer = setTimeout(() => {
    globalThis.dispatchEvent(
      new CustomEvent("beforeunload", { detail: { reason: "WallClockTime" } }),
    );
  }, warnMs);
  Deno.unrefTimer(warnTimer);

  let served = false;
  const realServe = Deno.serve.bind(Deno);
  // deno-lint-ignore no-explicit-any
  (Deno as any).serve = (...args: unknown[]) => {
    if (served) throw new Error("Deno.serve may be called once per function");
    served = true;
    const handler = args.find((a) => typeof a === "function") as Handler | undefined;
    const options = args.find((a) => typeof a === "object" && a !== null) as
      | { handler?: Handler }
      | undefined;
    const fn = handler ?? options?.handler;
    if (!fn) throw new Error("Deno.serve needs a handler");
    return realServe({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => console.log(`${READY_MARKER}${port}`),
    }, async (request, info) => {
      try {
        return await fn(request, info);
      } finally {
        handlerDone = true;
        queueMicrotask(reportIdleWhenSettled);
      }
    });
  };

  await import(pathToFileURL(entry).href);
  if (!served) {
    console.error(`${entry} did not call Deno.serve(handler)`);
    Deno.exit(1);
  }
}
