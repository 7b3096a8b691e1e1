// The docs cannot fall behind the code: every function and view of supabase/schema.sql, every
// migration and every custom SQLSTATE the migrations raise is named in docs/database.md, and
// every error code the functions record (sync_logs.error_code, the run's error_code,
// sync_run_accounts.last_error_code) is in the README's troubleshooting tables. The names are
// collected from the code itself, so a new one without docs fails here.
import { join, relative } from "node:path";
import { assert, assertEquals } from "../helpers/assert.ts";
import { PROJECT_ROOT } from "../../local-stack/stack/config.ts";
import { ERROR_CODES } from "../../supabase/functions/_shared/jobs/error-codes.ts";

const read = (path: string) => Deno.readTextFileSync(join(PROJECT_ROOT, path));
const databaseDoc = read("docs/database.md");
const readme = read("README.md");

/** Every file under `dir` (recursively) whose name ends with `ext`: files move, codes stay. */
function filesUnder(dir: string, ext: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    for (const entry of Deno.readDirSync(path)) {
      const child = join(path, entry.name);
      if (entry.isDirectory) walk(child);
      else if (entry.name.endsWith(ext)) found.push(child);
    }
  };
  walk(join(PROJECT_ROOT, dir));
  return found.sort();
}

const named = (text: string, name: string) =>
  new RegExp(`(^|[^A-Za-z0-9_])${name}($|[^A-Za-z0-9_])`).test(text);

/** `name (where)` for each name the text lacks. */
function missingFrom(text: string, names: Map<string, string>): string[] {
  return [...names].filter(([name]) => !named(text, name)).map(([name, where]) =>
    `${name} (${where})`
  );
}

/** Every match of `pattern`'s first group in each file, with the file it was first seen in. */
function collect(files: string[], patterns: RegExp[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of files) {
    const text = Deno.readTextFileSync(file);
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) {
        for (const name of match.slice(1).filter(Boolean)) {
          if (!found.has(name)) found.set(name, relative(PROJECT_ROOT, file));
        }
      }
    }
  }
  return found;
}

/** The functions and views of the dumped schema. */
function schemaObjects(): Map<string, string> {
  const schema = read("supabase/schema.sql");
  const found = new Map<string, string>();
  const pattern = /^CREATE (?:OR REPLACE )?(FUNCTION|(?:MATERIALIZED )?VIEW) public\.(\w+)/gm;
  for (const [, kind, name] of schema.matchAll(pattern)) {
    found.set(name, `${kind.toLowerCase()} in supabase/schema.sql`);
  }
  return found;
}

/**
 * The error codes the functions and the SQL write. In TypeScript: the one list every writer's
 * `ErrorCode` type comes from (`_shared/jobs/error-codes.ts`), plus, as a backstop, the string
 * literals of a `type ...ErrorCode` / `...ErrorKind` union, of an `errorCode` property or
 * comparison, and of a `{ code: "...", message }` pair. In SQL: what an `error_code` column is
 * set to, directly or through a `case`.
 */
export function recordedErrorCodes(): Map<string, string> {
  const codes = new Map<string, string>(
    ERROR_CODES.map((code) => [code, "supabase/functions/_shared/jobs/error-codes.ts"]),
  );
  const literals = collect(filesUnder("supabase/functions", ".ts"), [
    /\berrorCode\s*(?::|===|!==)\s*"([a-z_]+)"/g,
    /\berror_code\s*(?:=|<>)\s*'([a-z_]+)'/g,
    /\bcode: "([a-z_]+)",\s*message:/g,
  ]);
  for (const [code, where] of literals) if (!codes.has(code)) codes.set(code, where);
  for (const file of filesUnder("supabase/functions", ".ts")) {
    const text = Deno.readTextFileSync(file);
    for (const [, union] of text.matchAll(/\btype \w*Error(?:Code|Kind) =([^;]+);/g)) {
      for (const [, code] of union.matchAll(/"([a-z_]+)"/g)) {
        if (!codes.has(code)) codes.set(code, relative(PROJECT_ROOT, file));
      }
    }
  }
  const sqlFiles = filesUnder("supabase/migrations", ".sql");
  for (const [code, where] of collect(sqlFiles, [/error_code\s*=\s*'([a-z_]+)'/g])) {
    if (!codes.has(code)) codes.set(code, where);
  }
  for (const file of sqlFiles) {
    const text = Deno.readTextFileSync(file);
    for (const [, expr] of text.matchAll(/error_code\s*=\s*(case\b[\s\S]*?\bend\b)/g)) {
      for (const [, code] of expr.matchAll(/\b(?:then|else)\s+'([a-z_]+)'/g)) {
        if (!codes.has(code)) codes.set(code, relative(PROJECT_ROOT, file));
      }
    }
  }
  // zod's issue code (config and body validation), not a recorded error.
  codes.delete("custom");
  return codes;
}

/** The README's Troubleshooting section, table rows only. */
function troubleshootingTables(): string {
  const section = /^## Troubleshooting\n([\s\S]*?)(?=^## )/m.exec(readme);
  assert(section, "the README has a '## Troubleshooting' section followed by another '## '");
  return section[1].split("\n").filter((line) => line.startsWith("|")).join("\n");
}

Deno.test("every function and view of supabase/schema.sql is named in docs/database.md", () => {
  const objects = schemaObjects();
  assert(objects.size > 40, `found ${objects.size} functions and views in supabase/schema.sql`);
  assertEquals(missingFrom(databaseDoc, objects), []);
});

Deno.test("every migration is named in docs/database.md", () => {
  const migrations = new Map(
    filesUnder("supabase/migrations", ".sql").map((f) => [
      relative(join(PROJECT_ROOT, "supabase/migrations"), f).replace(/\.sql$/, ""),
      "supabase/migrations",
    ]),
  );
  assertEquals(missingFrom(databaseDoc, migrations), []);
});

Deno.test("every TS SQLSTATE the migrations raise is named in docs/database.md", () => {
  const states = collect(filesUnder("supabase/migrations", ".sql"), [
    /errcode\s*=\s*'(TS[0-9A-Z]{3})'/g,
  ]);
  assert(states.size > 20, `found ${states.size} SQLSTATEs`);
  assertEquals(missingFrom(databaseDoc, states), []);
});

Deno.test("every error code the functions record is in the README's troubleshooting tables", () => {
  const codes = recordedErrorCodes();
  for (
    const known of [
      "auth_expired",
      "worker_lost",
      "account_left_run",
      "time_budget",
      "token_expired",
    ]
  ) {
    assert(codes.has(known), `the collector finds ${known}: found ${[...codes.keys()]}`);
  }
  assertEquals(missingFrom(troubleshootingTables(), codes), []);
});

Deno.test("every error code the functions write is typed ErrorCode, so it is in ERROR_CODES", () => {
  // A code field typed as a plain string would let a code past the list (and past the check
  // above): `stop("skipped", "new_code", ...)` must fail to type-check instead.
  const loose = collect(filesUnder("supabase/functions", ".ts"), [
    /\b((?:errorCode|error_code|code)\??:\s*string)\b/g,
  ]);
  assertEquals([...loose].map(([decl, where]) => `${decl} (${where})`), []);
});
