/**
 * The simulated world's vocabulary: time units, the limits of its ids, and what an account, a
 * token and a post are (world.ts holds them; seeded-content.ts derives them from the seed).
 */
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Long-lived tokens last 60 days. */
export const TOKEN_LIFETIME_MS = 60 * DAY;
/** Ids have room for this many posts per kind per account. */
export const MAX_POSTS = 99_999;

export type MediaType = "TEXT_POST" | "IMAGE" | "VIDEO" | "CAROUSEL_ALBUM" | "REPOST_FACADE";

export interface TokenRecord {
  token: string;
  generation: number;
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
}

export interface Account {
  index: number;
  id: string;
  username: string;
  name: string;
  biography?: string;
  verified: boolean;
  historyCount: number;
  /** Simulated publish times of the posts published while running (ordinals 1, 2, …). */
  published: number[];
  /** Mean gap between history posts. */
  gapMs: number;
  /** Every token issued, oldest first; the last one is current. */
  tokens: TokenRecord[];
}

export interface Post {
  id: string;
  ordinal: number;
  account: Account;
  publishedAt: number;
  mediaType: MediaType;
  text: string;
  shortcode: string;
  isQuotePost: boolean;
  topicTag?: string;
  /** Meta omits the permalink of posts flagged for copyright. */
  hasPermalink: boolean;
}

export interface WorldOptions {
  seed: number;
  /** Simulated time at which the history ends. */
  genesisMs: number;
  accounts: number;
  postsPerAccount: number;
  /** Per-account history sizes by index, overriding `postsPerAccount`. */
  postCounts?: Record<number, number>;
}

/** What differs from the seed-derived defaults: enough to rebuild the world after a restart. */
export interface AccountState {
  index: number;
  historyCount: number;
  published: number[];
  tokens: { generation: number; issuedAt: number; revoked: boolean }[];
}
