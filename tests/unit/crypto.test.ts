// Tokens at rest: the v1 format round-trips, and every kind of bad input fails with an error
// that names the problem and never contains the token.
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { decrypt, encrypt, TokenCryptoError } from "../../supabase/functions/_shared/crypto.ts";

const newKey = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const TOKEN = "THQVJtest-token-" + crypto.randomUUID();
const KEY = newKey();

async function assertCryptoError(fn: () => Promise<unknown>, pattern: RegExp) {
  const error = await assertRejects(fn);
  assert(error instanceof TokenCryptoError, `expected TokenCryptoError, got ${error}`);
  assertMatch(error.message, pattern);
  assert(!error.message.includes(TOKEN), "the token never appears in an error");
  assert(!error.message.includes(KEY), "the key never appears in an error");
}

Deno.test("encrypt produces v1.<iv>.<ciphertext> that decrypt reverses", async () => {
  const stored = await encrypt(TOKEN, KEY);
  assertMatch(stored, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
  assert(!stored.includes(TOKEN));
  assertEquals(await decrypt(stored, KEY), TOKEN);
});

Deno.test("encrypt uses a fresh IV each time", async () => {
  assert((await encrypt(TOKEN, KEY)) !== (await encrypt(TOKEN, KEY)));
});

Deno.test("decrypt refuses a tampered ciphertext", async () => {
  const [v, iv, ct] = (await encrypt(TOKEN, KEY)).split(".");
  const flipped = ct[5] === "A" ? "B" : "A";
  const tampered = `${v}.${iv}.${ct.slice(0, 5)}${flipped}${ct.slice(6)}`;
  await assertCryptoError(() => decrypt(tampered, KEY), /no configured key authenticates it/);
});

Deno.test("decrypt refuses a wrong key", async () => {
  const stored = await encrypt(TOKEN, KEY);
  await assertCryptoError(() => decrypt(stored, newKey()), /no configured key authenticates it/);
});

Deno.test("decrypt accepts the previous key during a rotation, current key first", async () => {
  const oldKey = newKey();
  const current = newKey();
  const storedWithOld = await encrypt(TOKEN, oldKey);
  assertEquals(await decrypt(storedWithOld, [current, oldKey]), TOKEN);
  const storedWithCurrent = await encrypt(TOKEN, current);
  assertEquals(await decrypt(storedWithCurrent, [current, oldKey]), TOKEN);
});

Deno.test("decrypt names what is wrong with a malformed value", async () => {
  await assertCryptoError(
    () => decrypt("not-a-token", KEY),
    /not in the form v1\.<iv>\.<ciphertext>/,
  );
  await assertCryptoError(() => decrypt("v2.abc.def", KEY), /format version is unknown/);
  await assertCryptoError(() => decrypt("v1.@@@.def", KEY), /IV is not base64url/);
  await assertCryptoError(
    () => decrypt("v1.AAAA.AAAAAAAAAAAAAAAAAAAAAAAA", KEY),
    /IV is not 12 bytes/,
  );
  await assertCryptoError(
    () => decrypt("v1.AAAAAAAAAAAAAAAA.AAAA", KEY),
    /ciphertext is truncated/,
  );
});

Deno.test("a key of the wrong size is refused with its size", async () => {
  await assertCryptoError(
    () => encrypt(TOKEN, btoa("short")),
    /must be 32 bytes: current value is 5 bytes/,
  );
});
