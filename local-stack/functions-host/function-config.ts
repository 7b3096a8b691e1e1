/**
 * Per-function settings from supabase/config.toml (`[functions.<name>]`), read the way the
 * supabase CLI reads them at deploy time, so a function behaves the same locally and hosted.
 */
import { parse } from "smol-toml";
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface FunctionSettings {
  verifyJwt: boolean;
}

export function readFunctionSettings(configTomlPath: string): Map<string, FunctionSettings> {
  const settings = new Map<string, FunctionSettings>();
  if (!existsSync(configTomlPath)) return settings;
  const parsed = parse(Deno.readTextFileSync(configTomlPath)) as {
    functions?: Record<string, { verify_jwt?: boolean }>;
  };
  for (const [name, section] of Object.entries(parsed.functions ?? {})) {
    settings.set(name, { verifyJwt: section.verify_jwt ?? true });
  }
  return settings;
}

/** Parses a dotenv file (KEY=value, # comments, optional quotes), as `supabase functions serve`. */
export function readDotEnv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const env: Record<string, string> = {};
  for (const raw of Deno.readTextFileSync(path).split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).replace(/^export\s+/, "").trim();
    let value = line.slice(eq + 1).trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    env[key] = value;
  }
  return env;
}

/** The entry point of function `name` in the first folder that has one. */
export function findFunctionEntry(dirs: string[], name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) return undefined; // also rejects _shared
  for (const dir of dirs) {
    const entry = join(dir, name, "index.ts");
    if (existsSync(entry)) return entry;
  }
  return undefined;
}
