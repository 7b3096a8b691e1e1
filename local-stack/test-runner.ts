/**
 * `npm test`: every test of the project against a fresh private stack.
 *
 *  1. wipes and brings up the `test` stack (its own cluster and ports, so a developer's
 *     `dev` stack is left alone), serving tests/fixtures/functions beside the real functions;
 *  2. pgTAP: pg_prove over supabase/tests/database;
 *  3. Deno tests: `deno test -A tests/`, the pretty output on the console and the count taken
 *     from its JUnit report (.stack/test/deno-tests.junit.xml);
 *  4. `deno fmt --check` and `deno lint`, counted as one check each;
 *  5. stops the stack (its data stays in .stack/test for inspection) and prints the total as
 *     `N passed, N failed`.
 *
 * Environment: STACK_TEST_DB_PORT (54422), STACK_TEST_FUNCTIONS_PORT (54421),
 * STACK_TEST_SIMULATOR_PORT (54429); extra arguments are passed to `deno test` (a filter).
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { stackConfigFromEnv } from "./stack/config.ts";
import { down, up, wipe } from "./stack/stack.ts";
import { PROJECT_ROOT } from "./stack/config.ts";
import { stripAnsi } from "../cli/lib/colors.ts";
import { type Tally, tallyJUnit, testModules } from "./test-tally.ts";

export const TEST_STACK_ENV: Record<string, string> = {
  STACK_NAME: "test",
  STACK_DB_PORT: Deno.env.get("STACK_TEST_DB_PORT") ?? "54422",
  STACK_FUNCTIONS_PORT: Deno.env.get("STACK_TEST_FUNCTIONS_PORT") ?? "54421",
  STACK_SIMULATOR_PORT: Deno.env.get("STACK_TEST_SIMULATOR_PORT") ?? "54429",
  STACK_EXTRA_FUNCTIONS_DIRS: "tests/fixtures/functions",
  // The simulator limits nothing unless a test installs a rate-limit fault: a higher ceiling
  // than the production default (20) keeps the suite quick.
  THREADS_API_MAX_RPS: "100",
};

/**
 * Pauses the production schedules in the test stack: a run starting at :00 or :15 in the
 * middle of a test would change what the test sees, and so would an alert tick (tests tick
 * alerts themselves). Tests that exercise pg_cron schedule their own every-minute jobs.
 */
export async function pauseProductionSchedules(dbUrl: string): Promise<void> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`update cron.job set active = false where jobname in ('scheduled-sync', 'token-refresh', 'alert-tick')`;
  } finally {
    await sql.end();
  }
}

/** Runs a command with inherited output copied to our stdout, and returns what it printed. */
async function runAndCapture(cmd: string, args: string[], env: Record<string, string>) {
  const child = new Deno.Command(cmd, {
    args,
    env,
    cwd: PROJECT_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const copy = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    for await (const chunk of stream) {
      text += new TextDecoder().decode(chunk);
      await sink.write(chunk);
    }
  };
  const [status] = await Promise.all([
    child.status,
    copy(child.stdout, Deno.stdout),
    copy(child.stderr, Deno.stderr),
  ]);
  return { code: status.code, text };
}

/** pgTAP through pg_prove; counts every `ok`/`not ok` line of the verbose TAP stream. */
async function runPgTap(dbUrl: string): Promise<Tally> {
  const dir = join(PROJECT_ROOT, "supabase", "tests", "database");
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".test.sql")) : [];
  if (files.length === 0) return { passed: 0, failed: 0 };
  console.log(`\n== pgTAP: ${files.length} files ==`);
  const { code, text } = await runAndCapture(
    "pg_prove",
    ["--verbose", "--ext", ".sql", "-d", dbUrl, "-r", dir],
    Deno.env.toObject(),
  );
  const lines = stripAnsi(text).split("\n");
  const passed = lines.filter((l) => /^\s*ok \d+/.test(l)).length;
  let failed = lines.filter((l) => /^\s*not ok \d+/.test(l) && !/# TODO/.test(l)).length;
  // A file that died before its plan completed fails the suite even with no `not ok` line.
  if (code !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

/**
 * Deno's tests, counted from the JUnit report written beside the pretty output. No report
 * (a type error stops everything) or a failed exit with no failure counted (an error outside
 * any test) is one failure.
 */
async function runDenoTests(
  env: Record<string, string>,
  filter: string[],
  reportPath: string,
): Promise<Tally> {
  console.log("\n== Deno tests ==");
  rmSync(reportPath, { force: true });
  const { code } = await runAndCapture(
    Deno.execPath(),
    ["test", "-A", "--no-prompt", `--junit-path=${reportPath}`, ...filter, "tests/"],
    env,
  );
  if (!existsSync(reportPath)) {
    console.error("Counted as failed: deno test wrote no report (did a test module type-check?)");
    return { passed: 0, failed: 1 };
  }
  const tally = tallyJUnit(Deno.readTextFileSync(reportPath), testModules(PROJECT_ROOT, "tests"));
  for (const module of tally.missing) console.error(`Counted as failed: ${module} did not load`);
  if (code !== 0 && tally.failed === 0) tally.failed = 1;
  return { passed: tally.passed, failed: tally.failed };
}

async function runCheck(name: string, args: string[]): Promise<Tally> {
  console.log(`\n== ${name} ==`);
  const { code } = await runAndCapture(Deno.execPath(), args, Deno.env.toObject());
  return code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
}

if (import.meta.main) {
  const env = { ...Deno.env.toObject(), ...TEST_STACK_ENV };
  const config = stackConfigFromEnv(env);
  const totals: Tally = { passed: 0, failed: 0 };
  const add = (t: Tally) => {
    totals.passed += t.passed;
    totals.failed += t.failed;
  };
  try {
    console.log(`== Starting the test stack (.stack/${config.name}) ==`);
    await wipe(config);
    const stack = await up(config, env, (step) => console.log(`starting ${step}...`));
    await pauseProductionSchedules(stack.dbUrl);
    add(await runPgTap(stack.dbUrl));
    add(await runDenoTests(env, Deno.args, join(config.dir, "deno-tests.junit.xml")));
  } catch (error) {
    console.error(`\nCannot run the tests: ${error instanceof Error ? error.message : error}`);
    totals.failed += 1;
  } finally {
    await down(config).catch((error) => console.error(`Cannot stop the test stack: ${error}`));
  }
  add(await runCheck("deno fmt --check", ["fmt", "--check"]));
  add(await runCheck("deno lint", ["lint"]));
  console.log(`\n${totals.passed} passed, ${totals.failed} failed`);
  Deno.exit(totals.failed === 0 ? 0 : 1);
}
