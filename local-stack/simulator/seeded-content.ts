/**
 * What the seed decides, so nothing per post is stored: an account's name, biography and
 * posting gap; a post's type, text, shortcode and flags, all computed from (seed, account,
 * ordinal); the ids of accounts and posts and the token strings.
 *
 * History post k (ordinal -k) was published `k * gap + jitter` before the start, with the
 * newest post of an account within the last 20 minutes half of the time, so some accounts
 * start with a post too new to have insights.
 */
import { hash32, pickWeighted, unit } from "./prng.ts";
import { type Account, HOUR, MAX_POSTS, MINUTE, type Post } from "./world-model.ts";

const ADJECTIVES = ["sunny", "quiet", "brisk", "lucky", "amber", "nimble", "mellow", "bold"];
const NOUNS = ["otter", "harbor", "maple", "falcon", "meadow", "comet", "lantern", "pebble"];
const WORDS = (
  "today launch coffee thread morning team build ship idea market design data story city " +
  "music photo travel weekend update learn growth product community question answer note"
).split(" ");
const TOPICS = ["Mondays", "Tech", "Photography", "Coffee", "Startups", "Books"];
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";

export const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** A new account at `index` with `posts` history posts and no token yet. */
export function seededAccount(
  seed: number,
  seedPart: string,
  index: number,
  posts: number,
): Account {
  const adjective = ADJECTIVES[hash32(seed, index, "adj") % ADJECTIVES.length];
  const noun = NOUNS[hash32(seed, index, "noun") % NOUNS.length];
  const username = `${adjective}_${noun}_${index}`;
  return {
    index,
    id: `25${seedPart}${pad(index, 12)}`,
    username,
    name: `${adjective[0].toUpperCase()}${adjective.slice(1)} ${noun} ${index}`,
    biography: unit(seed, index, "bio") < 0.75 ? `Posting about ${noun}s.` : undefined,
    verified: unit(seed, index, "verified") < 0.1,
    historyCount: Math.min(MAX_POSTS, posts),
    published: [],
    // Between 4 and 36 hours between posts.
    gapMs: Math.floor(4 * HOUR + unit(seed, index, "gap") * 32 * HOUR),
    tokens: [],
  };
}

/** The post at `ordinal` of `account`, published at `publishedAt`. */
export function seededPost(
  seed: number,
  seedPart: string,
  account: Account,
  ordinal: number,
  publishedAt: number,
): Post {
  const key = [seed, account.index, ordinal] as const;
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
    id: postId(seedPart, account.index, ordinal),
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

/** How long before the start history post k was published; strictly increasing in k. */
export function historyOffset(seed: number, account: Account, k: number): number {
  const jitter = unit(seed, account.index, -k, "t");
  if (k === 0) return Math.floor(jitter * 20 * MINUTE);
  return Math.floor(k * account.gapMs + jitter * 0.9 * account.gapMs);
}

/** A token string: "TH…" like real Threads tokens; the index and generation make it unique. */
export function seededToken(seed: number, account: Account, generation: number): string {
  const body = [1, 2, 3, 4].map((i) =>
    hash32(seed, account.index, generation, "token", i).toString(36).padStart(7, "0")
  ).join("");
  return `THQV${body}${account.index.toString(36)}G${generation.toString(36)}`;
}

export function postId(seedPart: string, index: number, ordinal: number): string {
  const kind = ordinal > 0 ? "1" : "0";
  const n = ordinal > 0 ? ordinal - 1 : -ordinal;
  return `18${seedPart}${pad(index, 6)}${kind}${pad(n, 5)}`;
}

/** The account index and ordinal a post id of this seed names, or undefined. */
export function parsePostId(
  seedPart: string,
  id: string,
): { index: number; ordinal: number } | undefined {
  const match = /^18(\d{3})(\d{6})([01])(\d{5})$/.exec(id);
  if (!match || match[1] !== seedPart) return undefined;
  const n = Number(match[4]);
  return { index: Number(match[2]), ordinal: match[3] === "1" ? n + 1 : -n };
}
