// The README cannot drift from the commands: every `npm run <script>` it shows is a script of
// package.json, every --flag it passes is one the command's own --help documents, and the
// local commands a reader runs first (`npm run stack -- status --json`, `npm run status --
// --json`) work as shown against the test stack.
import { assert, assertEquals } from "../helpers/assert.ts";
import { cliEnv } from "../helpers/cli.ts";
import { testStack } from "../helpers/stack.ts";
import { PROJECT_ROOT } from "../../local-stack/stack/config.ts";

const readme = Deno.readTextFileSync(`${PROJECT_ROOT}/README.md`);
const scripts = JSON.parse(Deno.readTextFileSync(`${PROJECT_ROOT}/package.json`)).scripts;

/** Every `npm run <script> [-- args]` in the README's code. */
function readmeCommands(): { script: string; args: string }[] {
  const found = [...readme.matchAll(/npm run ([a-z-]+)(?: -- ([^#`|\n]*))?/g)];
  return found.map((m) => ({ script: m[1], args: (m[2] ?? "").trim() }));
}

async function npmRun(script: string, args: string[], env = cliEnv()) {
  const output = await new Deno.Command("npm", {
    args: ["run", "--silent", script, "--", ...args],
    cwd: PROJECT_ROOT,
    env,
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

Deno.test("every npm script the README shows exists in package.json", () => {
  const commands = readmeCommands();
  assert(commands.length > 10, "the README shows its commands");
  const missing = commands.filter((c) => !(c.script in scripts)).map((c) => c.script);
  assertEquals(missing, []);
});

Deno.test({
  name: "every flag the README passes to a command is documented by its --help",
  sanitizeResources: false,
  fn: async () => {
    const byScript = new Map<string, Set<string>>();
    for (const { script, args } of readmeCommands()) {
      for (const flag of args.match(/--[a-z][a-z-]*/g) ?? []) {
        if (!byScript.has(script)) byScript.set(script, new Set());
        byScript.get(script)!.add(flag);
      }
    }
    const undocumented: string[] = [];
    for (const [script, flags] of byScript) {
      const help = await npmRun(script, ["--help"]);
      const text = help.stdout + help.stderr;
      for (const flag of flags) if (!text.includes(flag)) undocumented.push(`${script} ${flag}`);
    }
    assertEquals(undocumented, []);
  },
});

Deno.test({
  name: "the README's first local commands work as shown",
  sanitizeResources: false,
  fn: async () => {
    await testStack();
    const stack = await npmRun("stack", ["status", "--json"]);
    assertEquals(stack.code, 0, stack.stderr);
    const status = JSON.parse(stack.stdout.trim().split("\n").at(-1)!);
    assertEquals(status.services.database, "running");
    const runs = await npmRun("status", ["--json"]);
    assertEquals(runs.code, 0, runs.stderr);
    const report = JSON.parse(runs.stdout);
    assert(
      Array.isArray(report.runs) && Array.isArray(report.attention),
      Object.keys(report).join(),
    );
  },
});
