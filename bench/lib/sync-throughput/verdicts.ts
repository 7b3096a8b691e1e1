/**
 * The verdicts of issue 12 on the product's runs: W200 against the API-rate bound, W10k inside
 * one 15-minute window, and how wall / bound grows with the run.
 */
import type { Measurement } from "./workload.ts";
import { POSTS_PER_ACCOUNT, W10K_ACCOUNTS } from "./workload.ts";
import { dbShare, pct, s } from "./report.ts";

type Check = readonly [what: string, ok: boolean, value: string];

const verdict = (checks: readonly Check[]) =>
  checks.map(([what, ok, value]) => `${what}: ${value} ${ok ? "met" : "MISSED"}`).join("; ");

const xBound = (m: Measurement) => `${(m.wallMs / m.rate.boundMs).toFixed(2)}x`;
const whole = (m: Measurement): Check => [
  `every account whole`,
  m.accountsOk === m.accounts,
  `${m.accountsOk}/${m.accounts}`,
];
const noneKilled = (m: Measurement): Check => [
  `no invocation killed`,
  m.invocations.killed === 0,
  String(m.invocations.killed),
];

export function w200Verdict(product: Measurement[]): string | undefined {
  const m = product.find((m) => m.accounts === 200 && m.postsPerAccount === POSTS_PER_ACCOUNT);
  if (!m) return undefined;
  const share = m.rate.shareOfLimit ?? 0;
  return `W200 verdict: ${
    verdict([
      [`wall <= 1.1 x bound`, m.wallMs <= 1.1 * m.rate.boundMs, xBound(m)],
      [`>= 0.9 of the limit`, share >= 0.9, share.toFixed(2)],
      [
        `rate-limit answers <= 0.1 % of calls`,
        m.rate.rateLimitShare <= 0.001,
        pct(m.rate.rateLimitShare),
      ],
      noneKilled(m),
      whole(m),
    ])
  }.`;
}

export function w10kVerdict(product: Measurement[]): string | undefined {
  const m = product.find((m) => m.accounts === W10K_ACCOUNTS);
  if (!m) return undefined;
  return `W10k verdict: ${
    verdict([
      [`inside one 15-minute window`, m.wallMs <= 15 * 60_000, `${s(m.wallMs)} s`],
      [`within 1.2 x its bound`, m.wallMs <= 1.2 * m.rate.boundMs, xBound(m)],
      whole(m),
      noneKilled(m),
    ])
  }; ${m.invocations.count} invocations, ${
    (m.cpuMs / m.accounts).toFixed(1)
  } CPU ms/account, peak ${m.peakRssMb} MB per invocation, DB share ${pct(dbShare(m))}.`;
}

export function growthNote(product: Measurement[]): string | undefined {
  if (product.length <= 1) return undefined;
  return `Growth (wall / bound, flat means time per call does not grow with the run): ${
    product.map((m) => `${m.accounts} x ${m.postsPerAccount}: ${xBound(m).slice(0, -1)}`)
      .join(", ")
  }.`;
}
