/**
 * The simulated Threads world: accounts, their tokens and their posts.
 *
 * Nothing per post is stored. A post is identified by its account and an ordinal (0, -1, -2 …
 * for the history that existed at the start, newest first; 1, 2 … for posts published while
 * the simulator runs), and every attribute is computed from (seed, account, ordinal). So
 * 1,000 accounts of 40 posts, or one account of 5,000, cost a few bytes each.
 *
 * History post k (ordinal -k) was published `k * gap + jitter` before the start, with the
 * newest post of an account within the last 20 minutes half of the time, so some accounts
 * start with a post too new to have insights.
 */
import { hash32, pickWeighted, unit } from "./prng.ts";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Long-lived tokens last 60 days (threads-api.md §6). */
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

const ADJECTIVES = ["sunny", "quiet", "brisk", "lucky", "amber", "nimble", "mellow", "bold"];
const NOUNS = ["otter", "harbor", "maple", "falcon", "meadow", "comet", "lantern", "pebble"];
const WORDS = (
  "today launch coffee thread morning team build ship idea market design data story city " +
  "music photo travel weekend update learn growth product community question answer note"
).split(" ");
const TOPICS = ["Mondays", "Tech", "Photography", "Coffee", "Startups", "Books"];
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";

const pad = (n: number, width: number) => String(n).padStart(width, "0");

export class World {
  readonly seed: number;
  readonly genesisMs: number;
  readonly accounts: Account[] = [];
  readonly #byId = new Map<string, Account>();
  readonly #byUsername = new Map<string, Account>();
  readonly #byToken = new Map<string, { account: Account; record: TokenRecord }>();
  readonly #seedPart: string;

  constructor(options: WorldOptions) {
    this.seed = options.seed;
    this.genesisMs = options.genesisMs;
    this.#seedPart = pad(Math.abs(options.seed) % 1000, 3);
    this.addAccounts(options.accounts, options.postsPerAccount, options.postCounts);
  }

  addAccounts(count: number, posts: number, postCounts: Record<number, number> = {}): Account[] {
    const added: Account[] = [];
    for (let i = 0; i < count; i++) {
      const index = this.accounts.length;
      const account = this.#createAccount(index, postCounts[index] ?? posts);
      this.accounts.push(account);
      this.#byId.set(account.id, account);
      this.#byUsername.set(account.username, account);
      this.#issueToken(account, this.genesisMs - 7 * DAY);
      added.push(account);
    }
    return added;
  }

  /** By index (number or digits under 12 characters), user id, or username. */
  account(ref: string | number): Account | undefined {
    if (typeof ref === "number") return this.accounts[ref];
    if (/^\d{1,11}$/.test(ref)) return this.accounts[Number(ref)];
    return this.#byId.get(ref) ?? this.#byUsername.get(ref.replace(/^@/, ""));
  }

  resolveToken(token: string): { account: Account; record: TokenRecord } | undefined {
    return this.#byToken.get(token);
  }

  currentToken(account: Account): TokenRecord {
    return account.tokens[account.tokens.length - 1];
  }

  /** Issues the next token; the old one stays valid until it expires unless `revokeOld`. */
  refreshToken(account: Account, nowMs: number, revokeOld: boolean): TokenRecord {
    if (revokeOld) this.currentToken(account).revoked = true;
    return this.#issueToken(account, nowMs);
  }

  setHistoryCount(account: Account, count: number): void {
    if (!Number.isInteger(count) || count < 0 || count > MAX_POSTS) {
      throw new RangeError(`posts count must be an integer from 0 to ${MAX_POSTS}`);
    }
    account.historyCount = count;
  }

  publish(account: Account, count: number, nowMs: number): Post[] {
    if (account.published.length + count > MAX_POSTS) {
      throw new RangeError(`an account can publish at most ${MAX_POSTS} posts`);
    }
    const posts: Post[] = [];
    for (let i = 0; i < count; i++) {
      // Strictly increasing times keep "newest first" well defined.
      const last = account.published.at(-1) ?? Number.NEGATIVE_INFINITY;
      account.published.push(Math.max(nowMs, last + 1000));
      posts.push(this.post(account, account.published.length)!);
    }
    return posts;
  }

  /** The post at `ordinal`, or undefined if the account has no such post. */
  post(account: Account, ordinal: number): Post | undefined {
    if (ordinal > account.published.length || ordinal <= -account.historyCount) return undefined;
    const publishedAt = this.#publishedAt(account, ordinal);
    const key = [this.seed, account.index, ordinal] as const;
    const mediaType = pickWeighted(
      unit(...key, "type"),
      [
        ["TEXT_POST", 60],
        ["IMAGE", 20],
        ["VIDEO", 8],
        ["CAROUSEL_ALBUM", 7],
        ["REPOST_FACADE", 5],
      ] as const,
    );
    const wordCount = 5 + (hash32(...key, "words") % 20);
    const text = Array.from(
      { length: wordCount },
      (_, i) => WORDS[hash32(...key, "w", i) % WORDS.length],
    ).join(" ");
    const shortcode = Array.from(
      { length: 11 },
      (_, i) => BASE62[hash32(...key, "sc", i) % BASE62.length],
    ).join("");
    const topic = unit(...key, "topic");
    return {
      id: this.#postId(account.index, ordinal),
      ordinal,
      account,
      publishedAt,
      mediaType,
      text,
      shortcode,
      isQuotePost: unit(...key, "quote") < 0.05,
      topicTag: topic < 0.3 ? TOPICS[hash32(...key, "tt") % TOPICS.length] : undefined,
      hasPermalink: unit(...key, "copyright") >= 0.01,
    };
  }

  postById(id: string): Post | undefined {
    const match = /^18(\d{3})(\d{6})([01])(\d{5})$/.exec(id);
    if (!match || match[1] !== this.#seedPart) return undefined;
    const account = this.accounts[Number(match[2])];
    if (!account) return undefined;
    const n = Number(match[4]);
    return this.post(account, match[3] === "1" ? n + 1 : -n);
  }

  /**
   * Posts newest first, starting below `beforeOrdinal` (exclusive), published within
   * [sinceMs, untilMs] and not after `nowMs`. `more` says whether another page exists.
   */
  listPosts(account: Account, query: {
    beforeOrdinal?: number;
    sinceMs?: number;
    untilMs?: number;
    nowMs: number;
    limit: number;
  }): { posts: Post[]; more: boolean } {
    const until = Math.min(query.untilMs ?? Number.POSITIVE_INFINITY, query.nowMs);
    const since = query.sinceMs ?? Number.NEGATIVE_INFINITY;
    const start = Math.min(account.published.length, (query.beforeOrdinal ?? Infinity) - 1);
    const posts: Post[] = [];
    for (let ordinal = start; ordinal > -account.historyCount; ordinal--) {
      const at = this.#publishedAt(account, ordinal);
      if (at > until) continue;
      // Times fall as ordinals fall, so the first post before `since` ends the list.
      if (at < since) return { posts, more: false };
      if (posts.length === query.limit) return { posts, more: true };
      posts.push(this.post(account, ordinal)!);
    }
    return { posts, more: false };
  }

  /** The posts an account has now, newest first (for tests comparing against the truth). */
  allPosts(account: Account, nowMs: number): Post[] {
    return this.listPosts(account, { nowMs, limit: Number.MAX_SAFE_INTEGER }).posts;
  }

  exportAccounts(): AccountState[] {
    return this.accounts.map((a) => ({
      index: a.index,
      historyCount: a.historyCount,
      published: [...a.published],
      tokens: a.tokens.map((t) => ({
        generation: t.generation,
        issuedAt: t.issuedAt,
        revoked: t.revoked,
      })),
    }));
  }

  /** Restores accounts saved by `exportAccounts` (adding any that are missing). */
  importAccounts(states: AccountState[], postsPerAccount: number): void {
    const needed = Math.max(0, ...states.map((s) => s.index + 1)) - this.accounts.length;
    if (needed > 0) this.addAccounts(needed, postsPerAccount);
    for (const state of states) {
      const account = this.accounts[state.index];
      account.historyCount = state.historyCount;
      account.published = [...state.published];
      for (const old of account.tokens) this.#byToken.delete(old.token);
      account.tokens = [];
      for (const t of state.tokens) {
        const record = this.#issueToken(account, t.issuedAt, t.generation);
        record.revoked = t.revoked;
      }
    }
  }

  /** Whole seconds, as Graph timestamps have no milliseconds. */
  #publishedAt(account: Account, ordinal: number): number {
    const at = ordinal > 0
      ? account.published[ordinal - 1]
      : this.genesisMs - this.#historyOffset(account, -ordinal);
    return Math.floor(at / 1000) * 1000;
  }

  /** How long before the start history post k was published; strictly increasing in k. */
  #historyOffset(account: Account, k: number): number {
    const jitter = unit(this.seed, account.index, -k, "t");
    if (k === 0) return Math.floor(jitter * 20 * MINUTE);
    return Math.floor(k * account.gapMs + jitter * 0.9 * account.gapMs);
  }

  #createAccount(index: number, posts: number): Account {
    const adjective = ADJECTIVES[hash32(this.seed, index, "adj") % ADJECTIVES.length];
    const noun = NOUNS[hash32(this.seed, index, "noun") % NOUNS.length];
    const username = `${adjective}_${noun}_${index}`;
    return {
      index,
      id: `25${this.#seedPart}${pad(index, 12)}`,
      username,
      name: `${adjective[0].toUpperCase()}${adjective.slice(1)} ${noun} ${index}`,
      biography: unit(this.seed, index, "bio") < 0.75 ? `Posting about ${noun}s.` : undefined,
      verified: unit(this.seed, index, "verified") < 0.1,
      historyCount: Math.min(MAX_POSTS, posts),
      published: [],
      // Between 4 and 36 hours between posts.
      gapMs: Math.floor(4 * HOUR + unit(this.seed, index, "gap") * 32 * HOUR),
      tokens: [],
    };
  }

  #issueToken(account: Account, issuedAt: number, generation?: number): TokenRecord {
    const gen = generation ?? account.tokens.length;
    const body = [1, 2, 3, 4].map((i) =>
      hash32(this.seed, account.index, gen, "token", i).toString(36).padStart(7, "0")
    ).join("");
    const record: TokenRecord = {
      // "TH…" like real Threads tokens; the index and generation make it unique.
      token: `THQV${body}${account.index.toString(36)}G${gen.toString(36)}`,
      generation: gen,
      issuedAt,
      expiresAt: issuedAt + TOKEN_LIFETIME_MS,
      revoked: false,
    };
    account.tokens.push(record);
    this.#byToken.set(record.token, { account, record });
    return record;
  }

  #postId(index: number, ordinal: number): string {
    const kind = ordinal > 0 ? "1" : "0";
    const n = ordinal > 0 ? ordinal - 1 : -ordinal;
    return `18${this.#seedPart}${pad(index, 6)}${kind}${pad(n, 5)}`;
  }
}
