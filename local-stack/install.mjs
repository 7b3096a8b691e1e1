// Installs what the project needs on a fresh machine, before `npm start`, `npm test`,
// `npm run stack` and `npm run bench` (their npm "pre" scripts). Plain Node, no packages:
// it runs before node_modules exists.
//
//   npm packages      `npm install` when node_modules lacks deno or supabase, or the lock changed
//   Debian packages   PostgreSQL 15, pg_cron, pgTAP, pg_prove, plpgsql_check: installed with
//                     apt-get when running as root, otherwise the command to run is printed
//
// Flags: --quiet (say nothing when all is there), --npm-only (skip the Debian packages).
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");
const npmOnly = process.argv.includes("--npm-only");
const say = (message) => {
  if (!quiet) console.error(message);
};

/** Debian package -> a file it installs, to tell whether it is there without asking apt. */
const DEBIAN_PACKAGES = {
  "postgresql-15": "/usr/lib/postgresql/15/bin/postgres",
  "postgresql-client-15": "/usr/lib/postgresql/15/bin/psql",
  "postgresql-15-cron": "/usr/share/postgresql/15/extension/pg_cron.control",
  "postgresql-15-pgtap": "/usr/share/postgresql/15/extension/pgtap.control",
  "libtap-parser-sourcehandler-pgtap-perl": "/usr/bin/pg_prove",
  "postgresql-15-plpgsql-check": "/usr/share/postgresql/15/extension/plpgsql_check.control",
};

function installNpmPackages() {
  const bin = join(root, "node_modules", ".bin");
  const marker = join(root, "node_modules", ".package-lock.json");
  const lock = join(root, "package-lock.json");
  const fresh = existsSync(join(bin, "deno")) && existsSync(join(bin, "supabase")) &&
    existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
  if (fresh) return;
  // `npm install`, not `npm ci`: npm 11 leaves the other platforms' optional binaries of deno and
  // supabase out of the lock file and `npm ci` then refuses it as out of sync.
  say("Installing npm packages (npm install)...");
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });
}

function installDebianPackages() {
  const missing = Object.entries(DEBIAN_PACKAGES).filter(([, file]) => !existsSync(file))
    .map(([name]) => name);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(
      `Missing Debian packages: ${missing.join(", ")}.\n` +
        `Install them with:\n  sudo apt-get update && sudo apt-get install -y ${missing.join(" ")}`,
    );
    process.exit(1);
  }
  say(`Installing Debian packages: ${missing.join(" ")}...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"], env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
    stdio: ["ignore", "ignore", "inherit"],
    env,
  });
}

try {
  installNpmPackages();
  if (!npmOnly) installDebianPackages();
} catch (error) {
  console.error(`Cannot install the project's dependencies: ${error.message}`);
  process.exit(1);
}
