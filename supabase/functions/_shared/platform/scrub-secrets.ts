/**
 * Removing a known secret from text before it is logged, stored or answered.
 *
 * `redact` (log.ts) removes tokens by shape (`access_token=...`, `Bearer ...`); a function
 * that holds the token itself can do better and remove that exact string wherever it appears,
 * whatever the text around it (an upstream message quoting it, an error from a library).
 */
import { redact } from "./log.ts";

export function scrubSecrets(text: string, ...secrets: (string | undefined)[]): string {
  let clean = redact(text) as string;
  for (const secret of secrets) {
    // Short strings could match ordinary words; tokens are far longer.
    if (secret && secret.length >= 8) clean = clean.split(secret).join("[redacted]");
  }
  return clean;
}
