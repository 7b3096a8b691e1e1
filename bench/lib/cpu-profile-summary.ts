/**
 * Reads a V8 `.cpuprofile` (what `deno run --cpu-prof` writes: JSON nodes with a call frame and
 * hit counts, plus sample time deltas) and lists where the CPU went: self time by function, and
 * by source (a package, or a file of ours), largest first.
 *
 *   deno run -A bench/lib/cpu-profile-summary.ts <file.cpuprofile> [top=30]
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A package (`npm:postgres`), a file of ours (`supabase/functions/_shared/platform/log.ts`), or V8's own label. */
function sourceOf(url: string): string {
  if (!url) return "(native / V8)";
  const npm = /node_modules\/\.deno\/([^/]+)\//.exec(url) ?? /registry\.[^/]+\/([^/]+\/[^/]+)\//
    .exec(url);
  if (npm) return `npm:${npm[1]}`;
  if (url.startsWith("ext:") || url.startsWith("node:")) return url.split("/")[0];
  const ours = /(supabase\/functions\/.*|local-stack\/.*|bench\/.*)$/.exec(url);
  return ours ? ours[1] : url;
}

/** Lines of text: total sampled time, then the top functions and the top sources by self time. */
export function summariseCpuProfile(file: string, top = 30): string[] {
  const profile = JSON.parse(Deno.readTextFileSync(file)) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time of a node: the time deltas of the samples that landed on it (microseconds).
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byFunction = new Map<string, number>();
  const bySource = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    const source = sourceOf(frame.url);
    const key = `${frame.functionName || "(anonymous)"}  ${source}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    bySource.set(source, (bySource.get(source) ?? 0) + us);
  }
  const busy = total - idle;
  const ms = (us: number) => (us / 1000).toFixed(0).padStart(6);
  const share = (us: number) => `${(100 * us / busy).toFixed(1).padStart(5)} %`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `sampled ${ms(total)} ms, of which busy ${ms(busy)} ms (idle ${ms(idle)} ms)`,
    `top functions by self time:`,
    ...sorted(byFunction).map(([k, us]) => `${ms(us)} ms ${share(us)}  ${k}`),
    `top sources by self time:`,
    ...sorted(bySource).map(([k, us]) => `${ms(us)} ms ${share(us)}  ${k}`),
  ];
}

if (import.meta.main) {
  const [file, top] = Deno.args;
  if (!file) {
    console.error("usage: deno run -A bench/lib/cpu-profile-summary.ts <file.cpuprofile> [top=30]");
    Deno.exit(2);
  }
  for (const line of summariseCpuProfile(file, top ? Number(top) : 30)) console.log(line);
}
