// `npm run stack -- up|status|down|wipe` as a person or a script uses it: up is idempotent,
// status --json gives the keys scripts need, a busy port gets a clear message, and down
// leaves nothing running. Uses its own stack name and ports, apart from the test stack.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { PROJECT_ROOT } from "../../local-stack/stack/config.ts";
import { portIsFree, processIsAlive } from "../../local-stack/stack/process.ts";

const PORTS = { db: 54622, functions: 54621, simulator: 54629 };
const ENV = {
  STACK_NAME: "lifecycle",
  STACK_DB_PORT: String(PORTS.db),
  STACK_FUNCTIONS_PORT: String(PORTS.functions),
  STACK_SIMULATOR_PORT: String(PORTS.simulator),
};

async function stack(args: string[], env: Record<string, string> = ENV) {
  const output = await new Deno.Command("npm", {
    args: ["run", "--silent", "stack", "--", ...args],
    cwd: PROJECT_ROOT,
    env,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function pids(): number[] {
  const dir = `${PROJECT_ROOT}/.stack/lifecycle`;
  return ["functions", "pg-net", "simulator"].flatMap((name) => {
    try {
      return [Number(Deno.readTextFileSync(`${dir}/${name}.pid`))];
    } catch {
      return [];
    }
  });
}

Deno.test({
  name: "stack: up twice is harmless, status --json has the keys, down leaves nothing running",
  sanitizeResources: false,
  fn: async () => {
    try {
      const first = await stack(["up"]);
      assertEquals(first.code, 0, first.stderr);
      const pidsAfterFirst = pids();
      assert(pidsAfterFirst.length >= 2, "functions host and pg_net worker have pid files");

      const second = await stack(["up"]);
      assertEquals(second.code, 0, second.stderr);
      assertEquals(pids(), pidsAfterFirst, "a second up starts nothing new");

      const statusRun = await stack(["status", "--json"]);
      assertEquals(statusRun.code, 0, statusRun.stderr);
      const status = JSON.parse(statusRun.stdout.trim().split("\n").at(-1)!);
      assertEquals(status.dbUrl, `postgresql://postgres:postgres@127.0.0.1:${PORTS.db}/postgres`);
      assertEquals(status.functionsUrl, `http://127.0.0.1:${PORTS.functions}/functions/v1`);
      assert(status.cronSecret.length >= 16, "a generated cron secret");
      assertEquals(atob(status.tokenEncryptionKey).length, 32);
      assertEquals(status.services.database, "running");
      assertEquals(status.services.functions, "running");

      const health = await fetch(`${status.functionsUrl}/health`, {
        headers: { Authorization: `Bearer ${status.cronSecret}` },
      });
      assertEquals(health.status, 200);
      await health.body?.cancel();

      const stopped = await stack(["down"]);
      assertEquals(stopped.code, 0, stopped.stderr);
      for (const pid of pidsAfterFirst) assert(!processIsAlive(pid), `process ${pid} is gone`);
      for (const port of Object.values(PORTS)) assert(portIsFree(port), `port ${port} is free`);
    } finally {
      await stack(["wipe"]);
    }
  },
});

Deno.test("stack: a port in use gets a message naming it and the variable to change", async () => {
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (squatter.addr as Deno.NetAddr).port;
  try {
    const result = await stack(["up"], {
      ...ENV,
      STACK_NAME: "lifecycle-busy",
      STACK_DB_PORT: String(port),
    });
    assertEquals(result.code, 1);
    assertMatch(result.stderr, new RegExp(`port ${port} on 127.0.0.1 is in use`));
    assertMatch(result.stderr, /STACK_DB_PORT=<port>/);
  } finally {
    squatter.close();
    await stack(["wipe"], { ...ENV, STACK_NAME: "lifecycle-busy" });
  }
});
