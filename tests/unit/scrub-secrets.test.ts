// Removing a known token from text, wherever it appears, on top of the logger's shape-based
// redaction.
import { assert, assertEquals } from "../helpers/assert.ts";
import { scrubSecrets } from "../../supabase/functions/_shared/platform/scrub-secrets.ts";

const TOKEN = "THQVabcdefghijklmnop0123456789";

Deno.test("scrubSecrets removes the exact token wherever it appears", () => {
  const text = `Threads said: token ${TOKEN} is invalid (${TOKEN}).`;
  assertEquals(
    scrubSecrets(text, TOKEN),
    "Threads said: token [redacted] is invalid ([redacted]).",
  );
});

Deno.test("scrubSecrets also redacts access_token= and Bearer shapes of other tokens", () => {
  const text = "GET /me?access_token=THQVother&fields=id Authorization: Bearer THQVthird";
  const clean = scrubSecrets(text);
  assert(!clean.includes("THQVother") && !clean.includes("THQVthird"), clean);
});

Deno.test("scrubSecrets leaves text alone for missing or very short secrets", () => {
  assertEquals(scrubSecrets("a b c", undefined, "", "b"), "a b c");
});
