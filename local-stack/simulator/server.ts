/**
 * The Threads API simulator as an HTTP server on 127.0.0.1: Graph paths answered by
 * graph-api.ts, `/_simulator/...` by control-api.ts. Tests start it in-process with
 * `startSimulator({ port: 0, ... })` and drive it through the returned handle; other processes
 * use the control API (README.md in this folder).
 */
import { CONTROL_PREFIX, handleControlRequest } from "./control-api.ts";
import type { FaultRule, FaultSpec } from "./faults.ts";
import { handleGraphRequest } from "./graph-api.ts";
import { postMetrics } from "./insights-model.ts";
import type { SimulatorStats } from "./request-stats.ts";
import { type DemoAccount, SimulatorOptions, SimulatorState } from "./state.ts";

export type { DemoAccount, FaultRule, FaultSpec, SimulatorOptions, SimulatorStats };

export interface SimulatedPost {
  id: string;
  publishedAt: string;
  mediaType: string;
  /** The true lifetime metrics now; null when the API answers no insights. */
  metrics: Record<string, number> | null;
}

export interface SimulatorHandle {
  /** Base URL of the Graph API, ending in /v1.0 (what THREADS_API_BASE_URL takes). */
  url: string;
  /** http://127.0.0.1:<port>, where `/_simulator/...` lives. */
  origin: string;
  port: number;
  close(): Promise<void>;
  accounts(): DemoAccount[];
  /** By index, user id or username. */
  account(ref: number | string): DemoAccount;
  now(): Date;
  advanceClock(ms: number): Date;
  addFault(spec: FaultSpec): string;
  removeFault(id: string): boolean;
  clearFaults(): void;
  faults(): FaultRule[];
  stats(): SimulatorStats;
  resetStats(): void;
  addAccounts(count: number, posts?: number): DemoAccount[];
  setPostCount(ref: number | string, count: number): void;
  /** Publishes new posts now; returns their ids. */
  publish(ref: number | string, count?: number): string[];
  /** The account's posts now, newest first, with their true metrics (for assertions). */
  posts(ref: number | string): SimulatedPost[];
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const state = new SimulatorState(options);
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => listening.resolve(),
  }, (request) => {
    const url = new URL(request.url);
    if (url.pathname === CONTROL_PREFIX || url.pathname.startsWith(`${CONTROL_PREFIX}/`)) {
      return handleControlRequest(state, request, url);
    }
    return handleGraphRequest(state, request, url);
  });
  await listening.promise;
  const port = server.addr.port;
  const origin = `http://127.0.0.1:${port}`;
  const find = (ref: number | string) => {
    const account = state.world.account(ref);
    if (!account) throw new Error(`Cannot find simulator account ${ref} as it does not exist`);
    return account;
  };
  let closing: Promise<void> | undefined;

  return {
    url: `${origin}/v1.0`,
    origin,
    port,
    close() {
      closing ??= (async () => {
        state.releaseWaits();
        await server.shutdown();
        await server.finished;
      })();
      return closing;
    },
    accounts: () => state.demoAccounts(),
    account: (ref) => state.describe(find(ref)),
    now: () => new Date(state.clock.now()),
    advanceClock(ms) {
      const now = state.clock.advance(ms);
      state.persist();
      return new Date(now);
    },
    addFault: (spec) => state.faults.add(spec).id,
    removeFault: (id) => state.faults.remove(id),
    clearFaults: () => void state.faults.clear(),
    faults: () => state.faults.list(),
    stats: () => state.stats.snapshot(),
    resetStats: () => state.stats.reset(),
    addAccounts(count, posts) {
      const added = state.world.addAccounts(count, posts ?? state.postsPerAccount);
      state.persist();
      return added.map((a) => state.describe(a));
    },
    setPostCount(ref, count) {
      state.world.setHistoryCount(find(ref), count);
      state.persist();
    },
    publish(ref, count = 1) {
      const posts = state.world.publish(find(ref), count, state.clock.now());
      state.persist();
      return posts.map((p) => p.id);
    },
    posts(ref) {
      const now = state.clock.now();
      return state.world.allPosts(find(ref), now).map((p) => ({
        id: p.id,
        publishedAt: new Date(p.publishedAt).toISOString(),
        mediaType: p.mediaType,
        metrics: postMetrics(state.world.seed, p, now),
      }));
    },
  };
}
