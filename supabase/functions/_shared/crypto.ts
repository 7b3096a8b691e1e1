/**
 * Access tokens at rest: `v1.<iv>.<ciphertext>`, AES-256-GCM through Web Crypto, a fresh
 * 12-byte random IV per encryption, the ciphertext carrying GCM's 16-byte tag, both parts
 * base64url without padding (DESIGN section 6).
 *
 * Key rotation: `decrypt` takes the keys as a list, current first. To rotate, deploy the new
 * key as TOKEN_ENCRYPTION_KEY and the old one in TOKEN_ENCRYPTION_KEYS_PREVIOUS; tokens
 * written from then on use the new key, old ones still decrypt, and each token is
 * re-encrypted with the current key the next time it is refreshed. Drop the old key once no
 * token uses it.
 *
 * Errors never contain the token or the key: they say which check failed.
 */
const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class TokenCryptoError extends Error {
  override name = "TokenCryptoError";
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

/** Encrypts a token with the current key. */
export async function encrypt(plaintext: string, base64Key: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await importKey(base64Key),
    new TextEncoder().encode(plaintext),
  );
  return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ciphertext))}`;
}

/**
 * Decrypts a stored token with the first of `base64Keys` that authenticates it (current key
 * first, then previous ones during a rotation).
 */
export async function decrypt(stored: string, base64Keys: string | string[]): Promise<string> {
  const keys = Array.isArray(base64Keys) ? base64Keys : [base64Keys];
  if (keys.length === 0) throw new TokenCryptoError("Cannot decrypt the token as no key is set");
  const parts = stored.split(".");
  if (parts.length !== 3) {
    throw new TokenCryptoError(
      "Cannot decrypt the token as it is not in the form v1.<iv>.<ciphertext>",
    );
  }
  const [version, ivText, ciphertextText] = parts;
  if (version !== VERSION) {
    throw new TokenCryptoError(
      `Cannot decrypt the token as its format version is unknown: current value is "${
        version.slice(0, 8)
      }"`,
    );
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
        { name: "AES-GCM", iv },
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
