/**
 * Preloaded into a profiled invocation (bench/cpu-per-account.ts --profile): V8 writes the
 * `--cpu-prof` file only when the process exits by itself, and the bench ends an invocation
 * with SIGTERM, as the functions host does. Bench-only: never part of a deployed function.
 */
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
