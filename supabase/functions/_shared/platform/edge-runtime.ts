/**
 * The platform's way to keep working after the response: `EdgeRuntime.waitUntil(promise)`.
 * Work started any other way (a bare promise, setTimeout) dies with the request, which is
 * exactly how hand-rolled syncs lose work. Where the platform API is absent (a plain Deno
 * process), callers must wait for the work instead.
 */
interface EdgeRuntimeApi {
  waitUntil(promise: Promise<unknown>): unknown;
}

export function edgeRuntime(): EdgeRuntimeApi | undefined {
  const runtime = (globalThis as { EdgeRuntime?: EdgeRuntimeApi }).EdgeRuntime;
  return typeof runtime?.waitUntil === "function" ? runtime : undefined;
}
