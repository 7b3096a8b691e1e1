/**
 * `npm run bench`: every benchmark, each measured against its baseline in the same run, with
 * the ratios printed as tables. Speed goals live here, never in tests. The machine (2 shared
 * cores) is noisy: compare ratios from one run, not absolute numbers across runs.
 *
 *   npm run bench                    all
 *   npm run bench -- threads-api     the client's rate limiter against the simulator
 *   npm run bench -- metrics-write   the one-call metrics write path against row-by-row and COPY
 *   npm run bench -- sync-throughput a whole sync run under the hosted limits, seed design vs
 *                                    product, 50-1,000 accounts x 40 posts against the strict API
 *   npm run bench -- sync-throughput --w10k   also 10,000 accounts x 10 posts (about 11 minutes)
 *   npm run bench -- sync-throughput --sizes=200 --baseline-sizes=   only W200
 *   npm run bench -- cpu-per-account CPU time of one invocation per account of 40 posts
 *
 * Benchmarks that need a database start a private `bench` stack (ports 54722/54721/54729)
 * and stop it at the end.
 */
import { runThreadsApiRateBench } from "./threads-api-rate.ts";
import { runMetricsWriteBench } from "./metrics-write.ts";
import { runSyncThroughputBench } from "./sync-throughput.ts";
import { runCpuPerAccountBench } from "./cpu-per-account.ts";
import { stackConfigFromEnv } from "../local-stack/stack/config.ts";
import { renderTable } from "../cli/lib/table.ts";
import { down, type StackStatus, up, wipe } from "../local-stack/stack/stack.ts";

type BenchResult = { rows: Record<string, string | number>[]; notes: string[] };

function printTable(title: string, result: BenchResult) {
  console.log(`\n== ${title} ==`);
  if (result.rows.length > 0) {
    const columns = Object.keys(result.rows[0]);
    console.log(renderTable(
      columns.map((header) => ({ header })),
      result.rows.map((row) => columns.map((column) => row[column])),
      { indent: "" },
    ));
  }
  for (const note of result.notes) console.log(`note: ${note}`);
}

const BENCH_STACK_ENV = {
  ...Deno.env.toObject(),
  STACK_NAME: "bench",
  STACK_DB_PORT: "54722",
  STACK_FUNCTIONS_PORT: "54721",
  STACK_SIMULATOR_PORT: "54729",
};

let stack: StackStatus | undefined;
/**
 * The private bench stack, wiped first like the test stack: its data is throwaway, and a stack
 * left by an earlier checkout may hold migrations this one orders differently.
 */
async function benchStack(): Promise<StackStatus> {
  if (!stack) {
    const config = stackConfigFromEnv(BENCH_STACK_ENV);
    await wipe(config);
    stack = await up(config, BENCH_STACK_ENV);
  }
  return stack;
}

const benches: Record<string, [string, () => Promise<BenchResult>]> = {
  "threads-api": [
    "Threads API client: 2,000 insight calls, 25 callers, 100 req/s limit, 30 ms latency",
    () => runThreadsApiRateBench(),
  ],
  "sync-throughput": [
    "Sync run under the hosted limits: seed design vs product defaults, N accounts x 40 posts, strict 200 req/s API, 30 ms latency",
    async () =>
      runSyncThroughputBench(await benchStack(), {
        sizes: listFlag("sizes"),
        baselineSizes: listFlag("baseline-sizes"),
        w10k: Deno.args.includes("--w10k"),
      }),
  ],
  "cpu-per-account": [
    "CPU per account: one scheduled-sync invocation, 100 accounts x 40 posts vs an empty run",
    async () => runCpuPerAccountBench(await benchStack()),
  ],
  "metrics-write": [
    "Metrics write path: 2,000 posts x 50 captures",
    async () => runMetricsWriteBench((await benchStack()).dbUrl),
  ],
};

/** `--name=1,2,3` among the arguments, as numbers (an empty list for `--name=`). */
function listFlag(name: string): number[] | undefined {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return undefined;
  return arg.slice(name.length + 3).split(",").filter(Boolean).map(Number);
}

if (Deno.args.includes("--help")) {
  console.log(`npm run bench [-- <name> ...] [--w10k] [--sizes=N,N] [--baseline-sizes=N,N]

Benchmarks (all when none is named): ${Object.keys(benches).join(", ")}
  --w10k                 sync-throughput: also 10,000 accounts x 10 posts (about 11 minutes)
  --sizes=50,200,1000    sync-throughput: accounts per product run
  --baseline-sizes=200   sync-throughput: accounts per seed-design run (empty: none)
  --help                 this text`);
  Deno.exit(0);
}

const names = Deno.args.filter((a) => !a.startsWith("--"));
const selected = names.length > 0 ? names : Object.keys(benches);
let failed = false;
try {
  for (const name of selected) {
    const bench = benches[name];
    if (!bench) {
      console.error(`unknown benchmark "${name}": one of ${Object.keys(benches).join(", ")}`);
      failed = true;
      continue;
    }
    printTable(bench[0], await bench[1]());
  }
} finally {
  if (stack) await down(stackConfigFromEnv(BENCH_STACK_ENV));
}
Deno.exit(failed ? 1 : 0);
