/**
 * The simulator as a process (what `npm run simulator` and the local stack start):
 *
 *   deno run -A local-stack/simulator/cli.ts --port 54329 --accounts 5 --posts 30 --seed 1
 *
 * Prints one JSON line, `{"url": "<base url ending in /v1.0>", "origin": ..., "accounts":
 * [{index, id, username, token, ...}]}`, then serves on 127.0.0.1 until SIGINT or SIGTERM.
 * Options: --state-file <path> keeps the world across restarts (when the file exists, its
 * seed, accounts and clock win over --seed/--accounts/--posts); --start-time <ISO date>;
 * --frozen-clock; --latency-ms <n> and --rps <n> install a global latency or rate-limit fault;
 * --strict-rps <n> (or SIMULATOR_STRICT_RPS=<n>, which the local stack passes on) installs the
 * strict app-wide limit: at most n requests in any sliding second, code 4 with no stated wait.
 */
import { parseArgs } from "node:util";
import type { FaultSpec } from "./faults.ts";
import { startSimulator } from "./server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "54329" },
    accounts: { type: "string", default: "5" },
    posts: { type: "string", default: "30" },
    seed: { type: "string", default: "1" },
    "state-file": { type: "string" },
    "start-time": { type: "string" },
    "frozen-clock": { type: "boolean", default: false },
    "latency-ms": { type: "string" },
    rps: { type: "string" },
    "strict-rps": { type: "string" },
  },
});

function integer(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}: current value is ${text}`);
    Deno.exit(2);
  }
  return n;
}

const faults: FaultSpec[] = [];
const latency = integer("latency-ms", values["latency-ms"], 0);
if (latency) faults.push({ kind: "latency", ms: latency });
const rps = integer("rps", values.rps, 1);
if (rps) faults.push({ kind: "rate_limit", rps });
const strictRps = integer(
  "strict-rps (or SIMULATOR_STRICT_RPS)",
  values["strict-rps"] ?? (Deno.env.get("SIMULATOR_STRICT_RPS") || undefined),
  1,
);
if (strictRps) faults.push({ kind: "app_rate_limit", rps: strictRps });

const simulator = await startSimulator({
  port: integer("port", values.port, 0),
  accounts: integer("accounts", values.accounts, 0),
  posts: integer("posts", values.posts, 0),
  seed: integer("seed", values.seed, 0),
  stateFile: values["state-file"],
  startTime: values["start-time"],
  frozenClock: values["frozen-clock"],
  faults,
});

console.log(JSON.stringify({
  url: simulator.url,
  origin: simulator.origin,
  accounts: simulator.accounts(),
}));

const stop = async () => {
  await simulator.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
