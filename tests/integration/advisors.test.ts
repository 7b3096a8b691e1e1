// Supabase's database advisors (security and performance lints) find nothing at WARN or
// above on the migrated schema: RLS on every table, no exposed functions, indexed foreign
// keys, no extension in public.
import { assertEquals } from "../helpers/assert.ts";
import { testStack } from "../helpers/stack.ts";
import { PROJECT_ROOT } from "../../local-stack/stack/config.ts";

Deno.test("supabase db advisors reports no WARN or ERROR on the migrated database", async () => {
  const stack = await testStack();
  const output = await new Deno.Command(`${PROJECT_ROOT}/node_modules/.bin/supabase`, {
    args: [
      "db",
      "advisors",
      `--remote=${stack.dbUrl}?sslmode=disable`,
      "--type",
      "all",
      "--level",
      "warn",
      "-o",
      "json",
    ],
    cwd: PROJECT_ROOT,
    env: { ...Deno.env.toObject(), SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  const findings = stdout.trim() === "" ? [] : JSON.parse(stdout);
  assertEquals(
    findings.map((f: { level: string; detail: string }) => `${f.level}: ${f.detail}`),
    [],
  );
});
