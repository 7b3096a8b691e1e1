/**
 * The token refresh call: exchanges a long-lived token for a fresh one. The API's stated
 * lifetime is capped at MAX_TOKEN_LIFETIME_S, so one odd answer cannot store a token as valid
 * for ever.
 */
import type { Logger } from "../platform/log.ts";
import { MAX_TOKEN_LIFETIME_S } from "./client-settings.ts";
import type { ThreadsRequester } from "./requester.ts";
import { tokenRefreshSchema } from "./schemas.ts";

export interface RefreshedToken {
  accessToken: string;
  tokenType: string;
  expiresInSeconds: number;
}

export async function refreshToken(
  http: ThreadsRequester,
  baseUrl: string,
  log: Logger,
): Promise<RefreshedToken> {
  // Documented without a version: https://graph.threads.net/refresh_access_token
  const root = baseUrl.replace(/\/v\d+(\.\d+)?$/, "");
  const body = await http.call({
    action: "refresh the access token",
    ...http.target("/refresh_access_token", { grant_type: "th_refresh_token" }, root),
    schema: tokenRefreshSchema,
  });
  const expiresInSeconds = Math.min(Math.floor(body.expires_in), MAX_TOKEN_LIFETIME_S);
  if (expiresInSeconds < body.expires_in) {
    log.warn("threads_api_expires_in_capped", {
      expires_in: body.expires_in,
      capped_to: expiresInSeconds,
    });
  }
  return {
    accessToken: body.access_token,
    tokenType: body.token_type ?? "bearer",
    expiresInSeconds,
  };
}
