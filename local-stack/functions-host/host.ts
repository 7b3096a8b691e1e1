/**
 * The local functions host: serves every `supabase/functions/<name>/index.ts` unmodified at
 * `http://127.0.0.1:<port>/functions/v1/<name>`, as the hosted Edge Runtime does.
 *
 * Each invocation runs in its own Deno process (invocation.ts, spawned and watched by
 * invocation-process.ts), with only the platform's variables and the function secrets in its
 * environment. The host enforces the platform's
 * per-invocation limits by killing that process, background work registered with
 * `EdgeRuntime.waitUntil` included: wall clock, CPU time and memory. CPU and memory are those
 * of the whole process (boot included) and its children, sampled from /proc every
 * USAGE_SAMPLE_MS (process-usage.ts):
 * - killed before it answered: the caller gets 546 WORKER_LIMIT, as on the platform;
 * - a function that fails to load: 503 BOOT_ERROR;
 * - the process ends once it has answered and its waitUntil work has settled.
 * Every invocation's output goes to the host's log, and its end to one line in the platform's
 * terms: `shutdown reason=<EventLoopCompleted|WallClockTime|CPUTime|Memory|EarlyExit|HostShutdown>
 * wall_ms=<n> cpu_ms=<n> boot_cpu_ms=<n> peak_rss_mb=<n>` (boot_cpu_ms: CPU time when the
 * function was loaded and serving; `-` when it never got there).
 */
import {
  findFunctionEntry,
  type FunctionSettings,
  readFunctionSettings,
} from "./function-config.ts";
import { Invocation, type InvocationLimits } from "./invocation-process.ts";
import { verifyJwt } from "./jwt.ts";
import { dirname, join } from "node:path";

export interface HostOptions extends InvocationLimits {
  port: number;
  /**
   * Folders holding `<name>/index.ts`, searched in order. Each folder's settings come from the
   * `config.toml` beside it (supabase/functions -> supabase/config.toml), as the CLI reads them.
   */
  functionsDirs: string[];
  jwtSecret: string;
  /** Where log lines go (default: stdout). */
  log?: (line: string) => void;
}

export interface HostHandle {
  port: number;
  url: string;
  /** Invocations still running (tests wait for background work with it). */
  activeInvocations(): number;
  close(): Promise<void>;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** The platform's answer for an invocation that ended without answering. */
function failure(invocation: Invocation, status: number, code: string, message: string) {
  if (invocation.hitLimit) {
    return json(546, {
      code: "WORKER_LIMIT",
      message: "Function failed due to not having enough compute resources (please check logs)",
    });
  }
  return json(status, { code, message });
}

export function startFunctionsHost(options: HostOptions): HostHandle {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = new Map<string, FunctionSettings>();
  for (const dir of [...options.functionsDirs].reverse()) {
    for (const [name, value] of readFunctionSettings(join(dirname(dir), "config.toml"))) {
      settings.set(name, value);
    }
  }
  const active = new Set<Invocation>();

  const invoke = async (name: string, entry: string, request: Request, path: string) => {
    const invocation = new Invocation(name, entry, options, log);
    active.add(invocation);
    invocation.exited.finally(() => active.delete(invocation));
    log(`[${name} ${invocation.id}] ${request.method} ${path}`);
    let port: number;
    try {
      port = await Promise.race([
        invocation.ready,
        invocation.exited.then(() => Promise.reject(new Error("exited"))),
      ]);
    } catch {
      await invocation.exited;
      return failure(invocation, 503, "BOOT_ERROR", "Function failed to start (please check logs)");
    }
    const target = new URL(request.url);
    const forwarded = new URL(path + target.search, `http://127.0.0.1:${port}`);
    try {
      const answer = await Promise.race([
        fetch(forwarded, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          redirect: "manual",
        }),
        invocation.exited.then(() => Promise.reject(new Error("worker ended"))),
      ]);
      // Buffer the body so the process is only let go once the caller has all of it.
      const body = await answer.arrayBuffer();
      invocation.markAnswered();
      // 204 (a CORS preflight), 205 and 304 may carry no body, not even an empty one.
      const nullBody = [204, 205, 304].includes(answer.status);
      return new Response(nullBody ? null : body, {
        status: answer.status,
        headers: answer.headers,
      });
    } catch {
      invocation.kill("EarlyExit");
      await invocation.exited;
      return failure(
        invocation,
        500,
        "WORKER_ERROR",
        "Function exited due to an error (please check logs)",
      );
    }
  };

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port,
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    const match = /^\/functions\/v1\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!match) return json(404, { code: "NOT_FOUND", message: "Requested path was not found" });
    const name = match[1];
    const entry = findFunctionEntry(options.functionsDirs, name);
    if (!entry) {
      return json(404, { code: "NOT_FOUND", message: "Requested function was not found" });
    }
    const verify = settings.get(name)?.verifyJwt ?? true;
    if (verify && request.method !== "OPTIONS") {
      const token = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
      if (!token || !(await verifyJwt(token, options.jwtSecret))) {
        return json(401, { code: "UNAUTHORIZED_INVALID_JWT_FORMAT", message: "Invalid JWT" });
      }
    }
    return invoke(name, entry, request, url.pathname);
  });

  const port = server.addr.port;
  return {
    port,
    url: `http://127.0.0.1:${port}/functions/v1`,
    activeInvocations: () => active.size,
    close: async () => {
      for (const invocation of active) invocation.kill("HostShutdown");
      await Promise.allSettled([...active].map((i) => i.exited));
      await server.shutdown();
    },
  };
}

if (import.meta.main) {
  // Usage: host.ts <options.json>: written by the stack (see stack.ts).
  const options = JSON.parse(Deno.readTextFileSync(Deno.args[0])) as HostOptions;
  const host = startFunctionsHost(options);
  console.log(`functions host: serving ${options.functionsDirs.join(", ")} at ${host.url}`);
  const shutdown = async () => {
    await host.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", shutdown);
}
