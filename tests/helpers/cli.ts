/**
 * The operator commands (cli/*.ts) run as an operator runs them: a subprocess
 * against the test stack, with only the test stack's environment.
 */
import { testStack, testStackEnv } from "./stack.ts";
import { PROJECT_ROOT } from "../../local-stack/stack/config.ts";

/** The command's environment: the test stack's, without anything pointing elsewhere. */
export function cliEnv(): Record<string, string> {
  const env: Record<string, string> = { ...testStackEnv(), NO_COLOR: "1" };
  for (const key of ["DATABASE_URL", "CRON_SECRET", "SUPABASE_ANON_KEY"]) delete env[key];
  return env;
}

/** `npm run <name> -- <args>`, as `deno run` of its script. */
export function cliCommand(name: "status" | "sync", args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `cli/${name}.ts`, ...args],
    cwd: PROJECT_ROOT,
    env: cliEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs the command to the end; returns its exit code and output. */
export async function runCli(name: "status" | "sync", args: string[]) {
  await testStack();
  const { code, stdout, stderr } = await cliCommand(name, args).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}
