/**
 * Running commands and background processes for the local stack.
 *
 * PostgreSQL refuses to run as root, so when the stack is started by root (CI, containers)
 * the cluster's commands run as the unprivileged `postgres` system user through `runuser`.
 * Background processes (pg_net worker, functions host, simulator) are detached from the
 * terminal and tracked by pid files, so `down` can stop them from another shell.
 */
import { closeSync, openSync } from "node:fs";
import { spawn } from "node:child_process";

export const IS_ROOT = Deno.uid() === 0;
/** The user the cluster runs as: `postgres` when we are root, ourselves otherwise. */
export const CLUSTER_USER = IS_ROOT ? "postgres" : undefined;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; `asClusterUser` runs it as the cluster's owner. */
export async function run(
  cmd: string,
  args: string[],
  options: { asClusterUser?: boolean; env?: Record<string, string>; cwd?: string; stdin?: string } =
    {},
): Promise<RunResult> {
  const [program, argv] = options.asClusterUser && CLUSTER_USER
    ? ["runuser", ["-u", CLUSTER_USER, "--", cmd, ...args]]
    : [cmd, args];
  const child = new Deno.Command(program, {
    args: argv,
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs a command and throws with its output when it fails. */
export async function runOrThrow(
  what: string,
  cmd: string,
  args: string[],
  options: Parameters<typeof run>[2] = {},
): Promise<RunResult> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    throw new Error(
      `Cannot ${what} as \`${cmd}\` exited with code ${result.code}:\n${
        result.stderr || result.stdout
      }`,
    );
  }
  return result;
}

/**
 * Starts a detached background process whose output goes to `logFile`, and writes its pid
 * to `pidFile`. The process survives this one exiting (it gets its own session).
 */
export function spawnDetached(
  cmd: string,
  args: string[],
  options: { logFile: string; pidFile: string; env: Record<string, string>; cwd: string },
): number {
  const fd = openSync(options.logFile, "a");
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`Cannot start ${cmd} as the spawn failed`);
  child.unref();
  Deno.writeTextFileSync(options.pidFile, String(child.pid));
  return child.pid;
}

/** The pid recorded in a pid file, when that process is still alive. */
export function livePid(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(pidFile).trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return processIsAlive(pid) ? pid : undefined;
}

/** True when the process exists and is not a zombie waiting to be reaped. */
export function processIsAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The state is the field after the parenthesised command name.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Stops the process (and its process group) named by a pid file; waits up to `graceMs`. */
export async function stopPidFile(pidFile: string, graceMs = 5000): Promise<boolean> {
  const pid = livePid(pidFile);
  if (pid === undefined) {
    try {
      Deno.removeSync(pidFile);
    } catch { /* already gone */ }
    return false;
  }
  const signalGroup = (signal: Deno.Signal) => {
    try {
      Deno.kill(-pid, signal); // the detached child leads its own process group
    } catch {
      try {
        Deno.kill(pid, signal);
      } catch { /* exited meanwhile */ }
    }
  };
  signalGroup("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && livePid(pidFile) !== undefined) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (livePid(pidFile) !== undefined) signalGroup("SIGKILL");
  try {
    Deno.removeSync(pidFile);
  } catch { /* already gone */ }
  return true;
}

/** True when nothing listens on 127.0.0.1:port (we can bind it ourselves). */
export function portIsFree(port: number): boolean {
  try {
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    listener.close();
    return true;
  } catch {
    return false;
  }
}

/** Waits until `probe` resolves true, or throws after `timeoutMs` naming `what`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`Cannot continue as ${what} did not happen within ${timeoutMs} ms`);
}
