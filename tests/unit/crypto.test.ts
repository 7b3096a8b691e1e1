// Tokens at rest: v2 (bound to its account) round-trips, v1 still reads, a token copied to
// another account fails with token_mismatch, and every kind of bad input fails with an error
// that names the problem and never contains the token.
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import {
  decrypt,
  encrypt,
  TokenCryptoError,
  tokenFormat,
} from "../../supabase/functions/_shared/crypto.ts";

const newKey = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const TOKEN = "THQVJtest-token-" + crypto.randomUUID();
const KEY = newKey();
const ACCOUNT = crypto.randomUUID();
const OTHER_ACCOUNT = crypto.randomUUID();

const base64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** A v1 token as the first release wrote it (`v1.<iv>.<ciphertext>`, see crypto.ts), built here. */
async function v1Token(plaintext: string, base64Key: string): Promise<string> {
  const raw = Uint8Array.from(atob(base64Key), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    key,
    new TextEncoder().encode(plaintext),
  );
  return `v1.${base64Url(iv)}.${base64Url(new Uint8Array(ct))}`;
}

async function assertCryptoError(
  fn: () => Promise<unknown>,
  pattern: RegExp,
  code = "token_unreadable",
) {
  const error = await assertRejects(fn);
  assert(error instanceof TokenCryptoError, `expected TokenCryptoError, got ${error}`);
  assertMatch(error.message, pattern);
  assertEquals(error.code, code);
  assert(!error.message.includes(TOKEN), "the token never appears in an error");
  assert(!error.message.includes(KEY), "the key never appears in an error");
}

Deno.test("encrypt produces v2.<account id>.<iv>.<ciphertext> that decrypt reverses", async () => {
  const stored = await encrypt(TOKEN, KEY, ACCOUNT);
  assertEquals(tokenFormat(stored), "v2");
  assertMatch(stored, new RegExp(`^v2\\.${ACCOUNT}\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]+$`));
  assert(!stored.includes(TOKEN));
  assertEquals(await decrypt(stored, KEY, ACCOUNT), TOKEN);
  assertEquals(await decrypt(stored, KEY, ACCOUNT.toUpperCase()), TOKEN, "a uuid in any case");
});

Deno.test("decrypt still reads a v1 token, for any account (v1 is not bound)", async () => {
  const stored = await v1Token(TOKEN, KEY);
  assertEquals(tokenFormat(stored), "v1");
  assertEquals(await decrypt(stored, KEY, ACCOUNT), TOKEN);
  assertEquals(await decrypt(stored, [newKey(), KEY], OTHER_ACCOUNT), TOKEN);
});

Deno.test("a v2 token copied to another account fails with token_mismatch", async () => {
  const stored = await encrypt(TOKEN, KEY, ACCOUNT);
  await assertCryptoError(
    () => decrypt(stored, KEY, OTHER_ACCOUNT),
    new RegExp(`encrypted for account ${ACCOUNT}, not ${OTHER_ACCOUNT}: it was copied`),
    "token_mismatch",
  );
});

Deno.test("the account binding is authenticated: relabelling a copy does not decrypt it", async () => {
  const [v, , iv, ct] = (await encrypt(TOKEN, KEY, ACCOUNT)).split(".");
  const relabelled = `${v}.${OTHER_ACCOUNT}.${iv}.${ct}`;
  await assertCryptoError(
    () => decrypt(relabelled, KEY, OTHER_ACCOUNT),
    /no configured key authenticates it/,
  );
});

Deno.test("encrypt uses a fresh IV each time", async () => {
  assert((await encrypt(TOKEN, KEY, ACCOUNT)) !== (await encrypt(TOKEN, KEY, ACCOUNT)));
});

Deno.test("decrypt refuses a tampered ciphertext", async () => {
  const [v, id, iv, ct] = (await encrypt(TOKEN, KEY, ACCOUNT)).split(".");
  const flipped = ct[5] === "A" ? "B" : "A";
  const tampered = `${v}.${id}.${iv}.${ct.slice(0, 5)}${flipped}${ct.slice(6)}`;
  await assertCryptoError(
    () => decrypt(tampered, KEY, ACCOUNT),
    /no configured key authenticates it/,
  );
});

Deno.test("decrypt refuses a wrong key", async () => {
  const stored = await encrypt(TOKEN, KEY, ACCOUNT);
  await assertCryptoError(
    () => decrypt(stored, newKey(), ACCOUNT),
    /no configured key authenticates it/,
  );
});

Deno.test("decrypt accepts the previous key during a rotation, current key first", async () => {
  const oldKey = newKey();
  const current = newKey();
  const storedWithOld = await encrypt(TOKEN, oldKey, ACCOUNT);
  assertEquals(await decrypt(storedWithOld, [current, oldKey], ACCOUNT), TOKEN);
  const storedWithCurrent = await encrypt(TOKEN, current, ACCOUNT);
  assertEquals(await decrypt(storedWithCurrent, [current, oldKey], ACCOUNT), TOKEN);
});

Deno.test("decrypt names what is wrong with a malformed value", async () => {
  await assertCryptoError(() => decrypt("not-a-token", KEY, ACCOUNT), /format version is unknown/);
  await assertCryptoError(() => decrypt("v3.abc.def", KEY, ACCOUNT), /format version is unknown/);
  await assertCryptoError(
    () => decrypt("v1.abc", KEY, ACCOUNT),
    /not in the form v1\.<iv>\.<ciphertext>/,
  );
  await assertCryptoError(
    () => decrypt(`v2.AAAAAAAAAAAAAAAA.AAAA`, KEY, ACCOUNT),
    /not in the form v2\.<account id>\.<iv>\.<ciphertext>/,
  );
  await assertCryptoError(() => decrypt("v1.@@@.def", KEY, ACCOUNT), /IV is not base64url/);
  await assertCryptoError(
    () => decrypt("v1.AAAA.AAAAAAAAAAAAAAAAAAAAAAAA", KEY, ACCOUNT),
    /IV is not 12 bytes/,
  );
  await assertCryptoError(
    () => decrypt(`v2.${ACCOUNT}.AAAAAAAAAAAAAAAA.AAAA`, KEY, ACCOUNT),
    /ciphertext is truncated/,
  );
});

Deno.test("encrypt and decrypt refuse an account id that is not a UUID", async () => {
  await assertCryptoError(() => encrypt(TOKEN, KEY, "acct.1"), /account id is not a UUID/);
  const stored = await encrypt(TOKEN, KEY, ACCOUNT);
  await assertCryptoError(() => decrypt(stored, KEY, ""), /account id is not a UUID/);
});

Deno.test("a key of the wrong size is refused with its size", async () => {
  await assertCryptoError(
    () => encrypt(TOKEN, btoa("short"), ACCOUNT),
    /must be 32 bytes: current value is 5 bytes/,
  );
});
