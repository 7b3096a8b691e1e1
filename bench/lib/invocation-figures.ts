/**
 * What the functions host's shutdown lines say about the invocations of a run: how many, how
 * many a platform limit killed, their CPU, wall time and peak memory.
 */
export interface InvocationFigures {
  count: number;
  /** Killed by a platform limit (CPUTime, Memory, WallClockTime). */
  killed: number;
  killedBy: Record<string, number>;
  cpuMs: number;
  maxCpuMs: number;
  bootCpuMs: number;
  wallMs: number;
  maxPeakRssMb: number;
}

export const NO_INVOCATIONS: InvocationFigures = {
  count: 0,
  killed: 0,
  killedBy: {},
  cpuMs: 0,
  maxCpuMs: 0,
  bootCpuMs: 0,
  wallMs: 0,
  maxPeakRssMb: 0,
};

/** Sums the `shutdown reason=... wall_ms= cpu_ms= boot_cpu_ms= peak_rss_mb=` lines. */
export function invocationFigures(lines: string[]): InvocationFigures {
  const figures = { ...NO_INVOCATIONS, killedBy: {} as Record<string, number> };
  for (const line of lines) {
    const reason = /shutdown reason=(\w+)/.exec(line)?.[1];
    if (!reason) continue;
    const num = (key: string) => Number(new RegExp(`${key}=([\\d.]+)`).exec(line)?.[1] ?? 0);
    figures.count++;
    if (["CPUTime", "Memory", "WallClockTime"].includes(reason)) {
      figures.killed++;
      figures.killedBy[reason] = (figures.killedBy[reason] ?? 0) + 1;
    }
    figures.cpuMs += num("cpu_ms");
    figures.maxCpuMs = Math.max(figures.maxCpuMs, num("cpu_ms"));
    figures.bootCpuMs += num("boot_cpu_ms");
    figures.wallMs += num("wall_ms");
    figures.maxPeakRssMb = Math.max(figures.maxPeakRssMb, num("peak_rss_mb"));
  }
  return figures;
}
