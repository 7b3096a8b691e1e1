/**
 * The local functions host: serves every `supabase/functions/<name>/index.ts` unmodified at
 * `http://127.0.0.1:<port>/functions/v1/<name>`, as the hosted Edge Runtime does.
 *
 * Each invocation runs in its own Deno process (invocation.ts, spawned and watched by
 * invocation-process.ts; forward.ts passes it the request), with only the platform's variables and the function secrets in its
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
import { forwardRequest, platformError } from "./forward.ts";
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

/** Every function's settings; a folder earlier in `functionsDirs` wins. */
function readAllSettings(functionsDirs: string[]): Map<string, FunctionSettings> {
  const settings = new Map<string, FunctionSettings>();
  for (const dir of [...functionsDirs].reverse()) {
    for (const [name, value] of readFunctionSettings(join(dirname(dir), "config.toml"))) {
      settings.set(name, value);
    }
  }
  return settings;
}

interface Target {
  name: string;
  entry: string;
}

/** The gateway's checks, as on the platform: a function path, a function, then its JWT. */
async function gateway(
  request: Request,
  url: URL,
  options: HostOptions,
  settings: Map<string, FunctionSettings>,
): Promise<Target | Response> {
  const match = /^\/functions\/v1\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (!match) return platformError(404, "NOT_FOUND", "Requested path was not found");
  const name = match[1];
  const entry = findFunctionEntry(options.functionsDirs, name);
  if (!entry) return platformError(404, "NOT_FOUND", "Requested function was not found");
  const verify = settings.get(name)?.verifyJwt ?? true;
  if (verify && request.method !== "OPTIONS") {
    const token = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    if (!token || !(await verifyJwt(token, options.jwtSecret))) {
      return platformError(401, "UNAUTHORIZED_INVALID_JWT_FORMAT", "Invalid JWT");
    }
  }
  return { name, entry };
}

export function startFunctionsHost(options: HostOptions): HostHandle {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = readAllSettings(options.functionsDirs);
  const active = new Set<Invocation>();

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port,
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    const target = await gateway(request, url, options, settings);
    if (target instanceof Response) return target;
    const invocation = new Invocation(target.name, target.entry, options, log);
    active.add(invocation);
    invocation.exited.finally(() => active.delete(invocation));
    log(`[${target.name} ${invocation.id}] ${request.method} ${url.pathname}`);
    return forwardRequest(invocation, request, url.pathname);
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
