/**
 * The local functions host: serves every `supabase/functions/<name>/index.ts` unmodified at
 * `http://127.0.0.1:<port>/functions/v1/<name>`, as the hosted Edge Runtime does.
 *
 * Each invocation runs in its own Deno process (invocation.ts), with only the platform's
 * variables and the function secrets in its environment. The host enforces the platform's
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
import { TextLineStream } from "./text-lines.ts";
import { IDLE_MARKER, READY_MARKER } from "./invocation.ts";
import {
  findFunctionEntry,
  type FunctionSettings,
  readFunctionSettings,
} from "./function-config.ts";
import { verifyJwt } from "./jwt.ts";
import { ProcessUsage } from "./process-usage.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface HostOptions {
  port: number;
  /**
   * Folders holding `<name>/index.ts`, searched in order. Each folder's settings come from the
   * `config.toml` beside it (supabase/functions -> supabase/config.toml), as the CLI reads them.
   */
  functionsDirs: string[];
  wallClockLimitMs: number;
  /** CPU time (user + system, boot included) an invocation may use: the platform's is 2000. */
  cpuLimitMs: number;
  /** Resident memory an invocation may reach: the platform's is 256. */
  memoryLimitMb: number;
  /** The whole environment of every invocation: platform variables plus function secrets. */
  functionEnv: Record<string, string>;
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

const INVOCATION_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "invocation.ts");
const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * How often an invocation's CPU and memory are read. 25 ms lets a busy invocation overrun its
 * CPU limit by about that much (the platform's checks are not instant either) for a few
 * small /proc reads per invocation, a fraction of a percent of a core.
 */
const USAGE_SAMPLE_MS = 25;

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

type ShutdownReason =
  | "EventLoopCompleted"
  | "WallClockTime"
  | "CPUTime"
  | "Memory"
  | "EarlyExit"
  | "HostShutdown";

const LIMIT_REASONS: ReadonlySet<ShutdownReason> = new Set(["WallClockTime", "CPUTime", "Memory"]);

class Invocation {
  readonly id = crypto.randomUUID().slice(0, 8);
  readonly started = performance.now();
  readonly ready: Promise<number>;
  readonly exited: Promise<Deno.CommandStatus>;
  private idle = false;
  private answered = false;
  private reason: ShutdownReason | undefined;
  private child: Deno.ChildProcess;
  private timer: ReturnType<typeof setTimeout>;
  private usage: ProcessUsage;
  /** CPU time when the function was loaded and serving: what boot costs of the limit. */
  private bootCpuMs: number | undefined;

  constructor(
    readonly name: string,
    entry: string,
    private options: HostOptions,
    private log: (line: string) => void,
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-prompt",
        // As the platform, which bundles at deploy: no type-checking at start (it is `deno
        // run`'s default; said here so boot stays cheap, as it counts against the CPU limit).
        "--no-check",
        INVOCATION_SCRIPT,
        entry,
        String(options.wallClockLimitMs),
      ],
      cwd: PROJECT_ROOT,
      env: options.functionEnv,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.usage = new ProcessUsage(this.child.pid);
    let resolveReady: (port: number) => void;
    let rejectReady: (error: Error) => void;
    this.ready = new Promise((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.pipe(this.child.stdout, (line) => {
      if (line.startsWith(READY_MARKER)) {
        this.bootCpuMs = this.usage.sample()?.cpuMs;
        resolveReady(Number(line.slice(READY_MARKER.length)));
      } else if (line === IDLE_MARKER) {
        this.idle = true;
        this.finishIfDone();
      } else this.log(`[${this.name} ${this.id}] ${line}`);
    });
    this.pipe(this.child.stderr, (line) => this.log(`[${this.name} ${this.id}] ${line}`));
    this.timer = setTimeout(() => this.kill("WallClockTime"), options.wallClockLimitMs);
    const sampler = setInterval(() => this.enforceUsageLimits(), USAGE_SAMPLE_MS);
    this.exited = this.child.status.then((status) => {
      clearTimeout(this.timer);
      clearInterval(sampler);
      rejectReady(new Error(`the function exited with code ${status.code} before serving`));
      const wallMs = Math.round(performance.now() - this.started);
      const { cpuMs, peakRssKb } = this.usage.latest;
      this.log(
        `[${this.name} ${this.id}] shutdown reason=${this.reason ?? "EarlyExit"}` +
          ` wall_ms=${wallMs} cpu_ms=${cpuMs} boot_cpu_ms=${this.bootCpuMs ?? "-"}` +
          ` peak_rss_mb=${(peakRssKb / 1024).toFixed(1)}`,
      );
      return status;
    });
  }

  /** Kills the invocation once its CPU time or memory is past the limit. */
  private enforceUsageLimits() {
    const usage = this.usage.sample();
    if (!usage || this.reason) return;
    if (usage.cpuMs > this.options.cpuLimitMs) this.kill("CPUTime");
    else if (usage.peakRssKb > this.options.memoryLimitMb * 1024) this.kill("Memory");
  }

  private async pipe(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
    const lines = stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
    for await (const line of lines) onLine(line);
  }

  markAnswered() {
    this.answered = true;
    this.finishIfDone();
  }

  /** The process may go once the caller has its answer and no background work is left. */
  private finishIfDone() {
    if (this.answered && this.idle) this.kill("EventLoopCompleted");
  }

  kill(reason: ShutdownReason) {
    if (this.reason) return;
    this.reason = reason;
    this.usage.sample(); // the figures of the shutdown line, as close to the end as can be
    try {
      this.child.kill(reason === "EventLoopCompleted" ? "SIGTERM" : "SIGKILL");
    } catch { /* already exited */ }
  }

  /** Whether the platform stopped it at one of its limits (the caller then gets 546). */
  get hitLimit() {
    return this.reason !== undefined && LIMIT_REASONS.has(this.reason);
  }
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
