/**
 * The host's side of one invocation: a Deno process running invocation.ts with the function's
 * entry, given only the platform's variables and the function secrets, and killed at the
 * platform's per-invocation limits (wall clock, CPU time, memory; CPU and memory are those of
 * the whole process, boot included, sampled from /proc every USAGE_SAMPLE_MS). Its output goes
 * to the host's log, and its end to one `shutdown reason=…` line (host.ts).
 */
import { TextLineStream } from "./text-lines.ts";
import { IDLE_MARKER, READY_MARKER } from "./invocation.ts";
import { ProcessUsage } from "./process-usage.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The limits and environment every invocation runs with (HostOptions carries them). */
export interface InvocationLimits {
  wallClockLimitMs: number;
  /** CPU time (user + system, boot included) an invocation may use: the platform's is 2000. */
  cpuLimitMs: number;
  /** Resident memory an invocation may reach: the platform's is 256. */
  memoryLimitMb: number;
  /** The whole environment of every invocation: platform variables plus function secrets. */
  functionEnv: Record<string, string>;
}

const INVOCATION_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "invocation.ts");
const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * How often an invocation's CPU and memory are read. 25 ms lets a busy invocation overrun its
 * CPU limit by about that much (the platform's checks are not instant either) for a few
 * small /proc reads per invocation, a fraction of a percent of a core.
 */
const USAGE_SAMPLE_MS = 25;

export type ShutdownReason =
  | "EventLoopCompleted"
  | "WallClockTime"
  | "CPUTime"
  | "Memory"
  | "EarlyExit"
  | "HostShutdown";

const LIMIT_REASONS: ReadonlySet<ShutdownReason> = new Set(["WallClockTime", "CPUTime", "Memory"]);

/** One invocation's process, from spawn to its shutdown line. */
export class Invocation {
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
    private options: InvocationLimits,
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
