/**
 * One request through one invocation: wait for the function to serve, forward the request to
 * it, and buffer its answer, or answer in the platform's terms when the process ends first
 * (546 WORKER_LIMIT when a limit killed it, 503 BOOT_ERROR when it never served, 500
 * WORKER_ERROR when it failed mid-request).
 */
import type { Invocation } from "./invocation-process.ts";

/** The platform's error body, `{code, message}`. */
export const platformError = (status: number, code: string, message: string) =>
  new Response(JSON.stringify({ code, message }), {
    status,
    headers: { "content-type": "application/json" },
  });

/** The platform's answer for an invocation that ended without answering. */
function failure(invocation: Invocation, status: number, code: string, message: string) {
  if (invocation.hitLimit) {
    return platformError(
      546,
      "WORKER_LIMIT",
      "Function failed due to not having enough compute resources (please check logs)",
    );
  }
  return platformError(status, code, message);
}

export async function forwardRequest(
  invocation: Invocation,
  request: Request,
  path: string,
): Promise<Response> {
  let port: number;
  try {
    port = await Promise.race([
      invocation.ready,
      invocation.exited.then(() => Promise.reject(new Error("exited"))),
    ]);
  } catch {
    await invocation.exited;
    return failure(invocation, 503, "BOOT_ERROR", "Function failed to start (please check logs)");
  }
  const target = new URL(request.url);
  const forwarded = new URL(path + target.search, `http://127.0.0.1:${port}`);
  try {
    const answer = await Promise.race([
      fetch(forwarded, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: "manual",
      }),
      invocation.exited.then(() => Promise.reject(new Error("worker ended"))),
    ]);
    // Buffer the body so the process is only let go once the caller has all of it.
    const body = await answer.arrayBuffer();
    invocation.markAnswered();
    // 204 (a CORS preflight), 205 and 304 may carry no body, not even an empty one.
    const nullBody = [204, 205, 304].includes(answer.status);
    return new Response(nullBody ? null : body, {
      status: answer.status,
      headers: answer.headers,
    });
  } catch {
    invocation.kill("EarlyExit");
    await invocation.exited;
    return failure(
      invocation,
      500,
      "WORKER_ERROR",
      "Function exited due to an error (please check logs)",
    );
  }
}
