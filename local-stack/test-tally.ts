/**
 * Counting Deno's test results from its JUnit report (`deno test --junit-path`), not from the
 * pretty output meant for people. Top-level tests count; steps (`parent > step`) do not, as
 * in Deno's own summary. The report lists every module that loaded, so a test module with no
 * report entry did not load (it crashed at the top level) and counts as one failure.
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

export interface Tally {
  passed: number;
  failed: number;
}

export interface TestTally extends Tally {
  /** Test modules that have no entry in the report. */
  missing: string[];
}

const ENTITIES: Record<string, string> = {
  "&quot;": '"',
  "&apos;": "'",
  "&lt;": "<",
  "&gt;": ">",
  "&amp;": "&",
};
const decode = (text: string) => text.replace(/&(quot|apos|lt|gt|amp);/g, (e) => ENTITIES[e]);

/** Tallies a JUnit report; `expectedModules` are names as the report gives them (`./a.test.ts`). */
export function tallyJUnit(xml: string, expectedModules: string[] = []): TestTally {
  const tally: TestTally = { passed: 0, failed: 0, missing: [] };
  const suites = new Set<string>();
  for (const suite of xml.matchAll(/<testsuite\s+name="([^"]*)"[^>]*>([\s\S]*?)<\/testsuite>/g)) {
    suites.add(decode(suite[1]));
    const tests: string[] = [];
    for (
      const test of suite[2].matchAll(/<testcase\s+name="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g)
    ) {
      const name = decode(test[1]);
      if (tests.some((parent) => name.startsWith(`${parent} > `))) continue; // a step
      tests.push(name);
      if (/<(failure|error)\b/.test(test[2])) tally.failed++;
      else if (!/<skipped\b/.test(test[2])) tally.passed++;
    }
  }
  tally.missing = expectedModules.filter((module) => !suites.has(module));
  tally.failed += tally.missing.length;
  return tally;
}

/** Deno's default test module names: `test.ts`, `*_test.ts`, `*.test.ts` (and js, tsx, …). */
const TEST_MODULE = /(^|[._])test\.(ts|tsx|mts|js|mjs|jsx)$/;

/** The test modules `deno test <dir>` runs, named as its report names them (`./dir/…`). */
export function testModules(root: string, dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (TEST_MODULE.test(entry.name)) found.push(`./${relative(root, full)}`);
    }
  };
  walk(join(root, dir));
  return found.sort();
}
