/**
 * CPU time and memory of an invocation's process and its descendants, read from /proc: what
 * the functions host measures against the platform's per-invocation CPU and memory limits.
 *
 * - CPU: utime + stime of each live process (all its threads: V8's compiler and GC threads
 *   count, as they do on the platform), plus cutime + cstime (children it already reaped),
 *   in clock ticks of `getconf CLK_TCK` (usually 100, so 10 ms resolution).
 * - Memory: VmRSS summed over the tree; the peak is the larger of that sum and the main
 *   process's VmHWM, so a spike between two samples still counts.
 */

export interface Usage {
  cpuMs: number;
  rssKb: number;
  peakRssKb: number;
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`); 100 when unknown. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    ticksPerSecond = 100;
    try {
      const { stdout } = new Deno.Command("getconf", { args: ["CLK_TCK"], stderr: "null" })
        .outputSync();
      const value = Number(new TextDecoder().decode(stdout).trim());
      if (Number.isInteger(value) && value > 0) ticksPerSecond = value;
    } catch { /* no getconf: Linux's USER_HZ is 100 */ }
  }
  return ticksPerSecond;
}

/** utime + stime (+ reaped children's cutime + cstime) of one process, in ticks. */
function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: count fields after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14 to 17.
  return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
}

function statusKb(status: string, key: "VmRSS" | "VmHWM"): number {
  return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

/** Live children of `pid`, from every thread's `children` list (any thread may spawn). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const list = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
      if (list !== "") children.push(...list.split(" ").map(Number));
    } catch { /* the thread ended */ }
  }
  return children;
}

/**
 * Samples the tree rooted at `pid`, keeping the peak across calls. Returns undefined once the
 * process is gone (the last sample then stands).
 */
export class ProcessUsage {
  private peakRssKb = 0;
  private last: Usage = { cpuMs: 0, rssKb: 0, peakRssKb: 0 };

  constructor(readonly pid: number) {}

  sample(): Usage | undefined {
    let ticks = 0;
    let rssKb = 0;
    try {
      const main = Deno.readTextFileSync(`/proc/${this.pid}/status`);
      this.peakRssKb = Math.max(this.peakRssKb, statusKb(main, "VmHWM"));
      ticks += cpuTicks(this.pid);
      rssKb += statusKb(main, "VmRSS");
      const pending = childrenOf(this.pid);
      while (pending.length > 0) {
        const pid = pending.pop()!;
        try {
          ticks += cpuTicks(pid);
          rssKb += statusKb(Deno.readTextFileSync(`/proc/${pid}/status`), "VmRSS");
          pending.push(...childrenOf(pid));
        } catch { /* it ended between two reads */ }
      }
    } catch {
      return undefined;
    }
    this.peakRssKb = Math.max(this.peakRssKb, rssKb);
    this.last = {
      cpuMs: Math.round(ticks * 1000 / clockTicksPerSecond()),
      rssKb,
      peakRssKb: this.peakRssKb,
    };
    return this.last;
  }

  /** The latest sample (zeros before the first). */
  get latest(): Usage {
    return this.last;
  }
}
