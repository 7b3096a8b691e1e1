// supabase/schema.sql is the schema the migrations build, so every schema change shows up in
// review as a diff of that one file. This rebuilds it on a throwaway cluster and compares.
import { assert, assertEquals } from "../helpers/assert.ts";
import { migratedSchema, SCHEMA_FILE, schemaDiff } from "../../local-stack/schema-dump.ts";

const FIX = "supabase/schema.sql does not match the migrations: run `npm run schema` and commit it";

Deno.test("supabase/schema.sql is what the migrations build", async () => {
  const fresh = await migratedSchema();
  let committed = "";
  try {
    committed = Deno.readTextFileSync(SCHEMA_FILE);
  } catch {
    assert(false, `supabase/schema.sql is missing.\n${FIX}`);
  }
  const diff = await schemaDiff(committed, fresh);
  const shown = diff.split("\n").slice(0, 80).join("\n");
  assert(diff === "", `${FIX}\n(- committed, + from the migrations)\n${shown}`);
});

Deno.test("the schema check's hint shows what changed, line by line", async () => {
  const diff = await schemaDiff("create table a ();\n", "create table a ();\ncreate table b ();\n");
  assert(diff.includes("+create table b ();"), diff);
  assertEquals(await schemaDiff("same\n", "same\n"), "");
});
