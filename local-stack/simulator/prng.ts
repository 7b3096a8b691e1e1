/**
 * Deterministic randomness: every generated value of the simulated world is a pure function
 * of (seed, what it describes), so a value can be computed on demand instead of stored, and
 * two runs with one seed see the same world.
 */

/** FNV-1a over the parts, then a murmur3 finaliser for a well-spread 32-bit result. */
export function hash32(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.join("\u0000");
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) determined by the parts. */
export function unit(...parts: (string | number)[]): number {
  return hash32(...parts) / 2 ** 32;
}

/** A sequence of uniform numbers in [0, 1) (mulberry32), for per-request draws such as fault rates. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Picks from weighted choices with a uniform `u` in [0, 1). */
export function pickWeighted<T>(u: number, choices: readonly (readonly [T, number])[]): T {
  const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
  let point = u * total;
  for (const [value, weight] of choices) {
    if (point < weight) return value;
    point -= weight;
  }
  return choices[choices.length - 1][0];
}
