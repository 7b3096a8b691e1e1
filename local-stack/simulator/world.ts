/**
 * The simulated Threads world: accounts, their tokens and their posts.
 *
 * Nothing per post is stored. A post is identified by its account and an ordinal (0, -1, -2 …
 * for the history that existed at the start, newest first; 1, 2 … for posts published while
 * the simulator runs), and every attribute is computed from (seed, account, ordinal)
 * (seeded-content.ts). So 1,000 accounts of 40 posts, or one account of 5,000, cost a few
 * bytes each. The world keeps what changes: posts published, history sizes set, tokens issued.
 */
import {
  historyOffset,
  pad,
  parsePostId,
  seededAccount,
  seededPost,
  seededToken,
} from "./seeded-content.ts";
import {
  type Account,
  type AccountState,
  DAY,
  MAX_POSTS,
  type Post,
  TOKEN_LIFETIME_MS,
  type TokenRecord,
  type WorldOptions,
} from "./world-model.ts";

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
      const account = seededAccount(this.seed, this.#seedPart, index, postCounts[index] ?? posts);
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
    return seededPost(this.seed, this.#seedPart, account, ordinal, publishedAt);
  }

  postById(id: string): Post | undefined {
    const ref = parsePostId(this.#seedPart, id);
    if (!ref) return undefined;
    const account = this.accounts[ref.index];
    return account ? this.post(account, ref.ordinal) : undefined;
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
      : this.genesisMs - historyOffset(this.seed, account, -ordinal);
    return Math.floor(at / 1000) * 1000;
  }

  #issueToken(account: Account, issuedAt: number, generation?: number): TokenRecord {
    const gen = generation ?? account.tokens.length;
    const record: TokenRecord = {
      token: seededToken(this.seed, account, gen),
      generation: gen,
      issuedAt,
      expiresAt: issuedAt + TOKEN_LIFETIME_MS,
      revoked: false,
    };
    account.tokens.push(record);
    this.#byToken.set(record.token, { account, record });
    return record;
  }
}
