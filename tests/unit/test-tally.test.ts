// npm test counts Deno's results from its JUnit report: these run a real `deno test` over small
// modules in a temporary folder and count its report as the test runner does.
import { join } from "node:path";
import { assertEquals } from "../helpers/assert.ts";
import { tallyJUnit, testModules } from "../../local-stack/test-tally.ts";

const MODULES: Record<string, string> = {
  "a.test.ts": `
    Deno.test("passes", () => {});
    Deno.test("fails", () => { throw new Error("no"); });
    Deno.test("has steps", async (t) => { await t.step("one", () => {}); });
    Deno.test({ name: "ignored", ignore: true, fn: () => {} });
    Deno.test('named "with" <marks> & more', () => {});`,
  "crashes.test.ts": `throw new Error("at load");`,
  "helper.ts": `export const notATest = 1;`,
};

/** Writes `modules` to a new folder, runs `deno test --junit-path` there, returns the report. */
async function denoTestReport(modules: Record<string, string>) {
  const dir = await Deno.makeTempDir();
  for (const [name, text] of Object.entries(modules)) {
    await Deno.mkdir(join(dir, "t"), { recursive: true });
    await Deno.writeTextFile(join(dir, "t", name), text);
  }
  const report = join(dir, "report.xml");
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-config", `--junit-path=${report}`, "t/"],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).output();
  const xml = await Deno.readTextFile(report).catch(() => undefined);
  return { dir, code, xml };
}

Deno.test("the report counts passed and failed tests, not steps or ignored ones, and a module that did not load as failed", async () => {
  const { dir, code, xml } = await denoTestReport(MODULES);
  try {
    assertEquals(code, 1);
    const modules = testModules(dir, "t");
    assertEquals(modules, ["./t/a.test.ts", "./t/crashes.test.ts"]);
    assertEquals(tallyJUnit(xml!, modules), {
      passed: 3,
      failed: 2,
      missing: ["./t/crashes.test.ts"],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a module that does not type-check leaves no report", async () => {
  const { dir, code, xml } = await denoTestReport({
    "typed.test.ts": `const n: number = "text"; Deno.test("t", () => {});`,
  });
  try {
    assertEquals([code, xml], [1, undefined]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
