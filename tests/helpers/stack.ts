/**
 * The local stack the tests run against. `npm test` starts the private `test` stack and sets
 * STACK_* for us; run directly (`deno test -A tests/...`), the helper brings the same stack up.
 */
import postgres from "postgres";
import { stackConfigFromEnv } from "../../local-stack/stack/config.ts";
import { readHostOptions, type StackStatus, status, up } from "../../local-stack/stack/stack.ts";
import { type HostHandle, startFunctionsHost } from "../../local-stack/functions-host/host.ts";
import { pauseProductionSchedules, TEST_STACK_ENV } from "../../local-stack/test-runner.ts";

let cached: Promise<StackStatus> | undefined;

export function testStackEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  return env.STACK_NAME ? env : { ...env, ...TEST_STACK_ENV };
}

/** The running test stack (started on first use when needed). */
export function testStack(): Promise<StackStatus> {
  cached ??= (async () => {
    const env = testStackEnv();
    const config = stackConfigFromEnv(env);
    const current = await status(config);
    const allUp = Object.values(current.services).every((s) => s !== "stopped");
    if (allUp) return current;
    const started = await up(config, env);
    await pauseProductionSchedules(started.dbUrl);
    return started;
  })();
  return cached;
}

/** A postgres.js client on the test stack's database; close it with `await sql.end()`. */
export async function testDb(): Promise<postgres.Sql> {
  const stack = await testStack();
  return postgres(stack.dbUrl, { max: 4, onnotice: () => {}, prepare: false });
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A functions host of the test's own, with the test stack's settings plus `env` (its log lines
 * go to `log`): to capture logs, or to run the functions with a different budget or limit.
 */
export async function startOwnHost(
  options: {
    env?: Record<string, string>;
    wallClockLimitMs?: number;
    cpuLimitMs?: number;
    memoryLimitMb?: number;
    log: (line: string) => void;
  },
): Promise<HostHandle> {
  await testStack();
  const stackHost = readHostOptions(stackConfigFromEnv(testStackEnv()).dir);
  return startFunctionsHost({
    ...stackHost,
    port: 0,
    wallClockLimitMs: options.wallClockLimitMs ?? stackHost.wallClockLimitMs,
    cpuLimitMs: options.cpuLimitMs ?? stackHost.cpuLimitMs,
    memoryLimitMb: options.memoryLimitMb ?? stackHost.memoryLimitMb,
    functionEnv: { ...stackHost.functionEnv, ...options.env },
    log: options.log,
  });
}
