/**
 * Access tokens at rest, AES-256-GCM through Web Crypto, a fresh 12-byte random IV per
 * encryption, the ciphertext carrying GCM's 16-byte tag, every part base64url without padding
 * (the shapes the `workspace_threads_tokens_encrypted_shape` check accepts). Two formats:
 *
 *   v1.<iv>.<ciphertext>               the original format: read only
 *   v2.<account id>.<iv>.<ciphertext>  written now: the account id is GCM's additional
 *                                      authenticated data, so the ciphertext decrypts only for
 *                                      the account it was encrypted for
 *
 * Why v2: with v1, a ciphertext copied to another account's token row (a bad support fix, an
 * attacker with write access to one column) would silently act as that account. The account id
 * in clear is not what protects it (GCM checks the id the caller passes); it is there so a
 * mismatch gets its own error (`token_mismatch`) instead of looking like a wrong key. v1 tokens
 * are upgraded when token-refresh next renews them.
 *
 * Key rotation: `decrypt` takes the keys as a list, current first. To rotate, deploy the new
 * key as TOKEN_ENCRYPTION_KEY and the old one in TOKEN_ENCRYPTION_KEYS_PREVIOUS; tokens
 * written from then on use the new key, old ones still decrypt, and each token is
 * re-encrypted with the current key the next time it is refreshed. Drop the old key once no
 * token uses it.
 *
 * Errors never contain the token or the key: they say which check failed.
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What sync_logs.error_code records for a token that cannot be used. */
export const TOKEN_CRYPTO_ERROR_CODES = ["token_unreadable", "token_mismatch"] as const;
export type TokenCryptoErrorCode = (typeof TOKEN_CRYPTO_ERROR_CODES)[number];

export class TokenCryptoError extends Error {
  override name = "TokenCryptoError";
  constructor(message: string, readonly code: TokenCryptoErrorCode = "token_unreadable") {
    super(message);
  }
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string, part: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) {
    throw new TokenCryptoError(`Cannot decrypt the token as its ${part} is not base64url`);
  }
  const padded = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The account id as bound into v2 (lower case, as Postgres prints a uuid). */
function accountIdOf(accountId: string, doing: "encrypt" | "decrypt"): string {
  const id = accountId.toLowerCase();
  if (!UUID.test(id)) {
    throw new TokenCryptoError(`Cannot ${doing} the token as the account id is not a UUID`);
  }
  return id;
}

const keyCache = new Map<string, Promise<CryptoKey>>();

/** Imports a base64 key of 32 bytes (TOKEN_ENCRYPTION_KEY's format). */
function importKey(base64Key: string): Promise<CryptoKey> {
  let key = keyCache.get(base64Key);
  if (!key) {
    let raw: Uint8Array<ArrayBuffer>;
    try {
      raw = Uint8Array.from(atob(base64Key), (c) => c.charCodeAt(0));
    } catch {
      throw new TokenCryptoError("TOKEN_ENCRYPTION_KEY must be base64");
    }
    if (raw.length !== 32) {
      throw new TokenCryptoError(
        `TOKEN_ENCRYPTION_KEY must be 32 bytes: current value is ${raw.length} bytes`,
      );
    }
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keyCache.set(base64Key, key);
  }
  return key;
}

/** Encrypts account `accountId`'s token with the current key, in the v2 format. */
export async function encrypt(
  plaintext: string,
  base64Key: string,
  accountId: string,
): Promise<string> {
  const id = accountIdOf(accountId, "encrypt");
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(id) },
    await importKey(base64Key),
    new TextEncoder().encode(plaintext),
  );
  return `v2.${id}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ciphertext))}`;
}

/** The format of a stored token ("v1", "v2"), or undefined when it is neither. */
export function tokenFormat(stored: string): "v1" | "v2" | undefined {
  const version = stored.slice(0, stored.indexOf("."));
  return version === "v1" || version === "v2" ? version : undefined;
}

/**
 * Decrypts account `accountId`'s stored token with the first of `base64Keys` that
 * authenticates it (current key first, then previous ones during a rotation). A v2 token of
 * another account fails with code `token_mismatch`; every other failure is `token_unreadable`.
 */
export async function decrypt(
  stored: string,
  base64Keys: string | string[],
  accountId: string,
): Promise<string> {
  const keys = Array.isArray(base64Keys) ? base64Keys : [base64Keys];
  if (keys.length === 0) throw new TokenCryptoError("Cannot decrypt the token as no key is set");
  const id = accountIdOf(accountId, "decrypt");
  const parts = stored.split(".");
  const version = tokenFormat(stored);
  if (version === undefined) {
    throw new TokenCryptoError(
      `Cannot decrypt the token as its format version is unknown: current value is "${
        parts[0].slice(0, 8)
      }"`,
    );
  }
  const shape = version === "v1" ? "v1.<iv>.<ciphertext>" : "v2.<account id>.<iv>.<ciphertext>";
  if (parts.length !== (version === "v1" ? 3 : 4)) {
    throw new TokenCryptoError(`Cannot decrypt the token as it is not in the form ${shape}`);
  }
  const [ivText, ciphertextText] = parts.slice(-2);
  let additionalData: Uint8Array<ArrayBuffer> | undefined;
  if (version === "v2") {
    if (parts[1] !== id) {
      throw new TokenCryptoError(
        `Cannot decrypt the token as it was encrypted for ${
          UUID.test(parts[1]) ? `account ${parts[1]}` : "another account"
        }, not ${id}: it was copied from another account; reconnect this account`,
        "token_mismatch",
      );
    }
    additionalData = new TextEncoder().encode(id);
  }
  const iv = fromBase64Url(ivText, "IV");
  const ciphertext = fromBase64Url(ciphertextText, "ciphertext");
  if (iv.length !== IV_BYTES) {
    throw new TokenCryptoError(`Cannot decrypt the token as its IV is not ${IV_BYTES} bytes`);
  }
  if (ciphertext.length < TAG_BYTES) {
    throw new TokenCryptoError("Cannot decrypt the token as its ciphertext is truncated");
  }
  for (const base64Key of keys) {
    try {
      const plaintext = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, ...(additionalData ? { additionalData } : {}) },
        await importKey(base64Key),
        ciphertext,
      );
      return new TextDecoder().decode(plaintext);
    } catch (error) {
      if (error instanceof TokenCryptoError) throw error;
      // Authentication failed with this key: try the next one.
    }
  }
  throw new TokenCryptoError(
    "Cannot decrypt the token as no configured key authenticates it (tampered, or encrypted with another key)",
  );
}
