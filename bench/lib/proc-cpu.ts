/**
 * CPU time of processes and threads from Linux's /proc: user + system clock ticks of
 * /proc/<pid>/stat (1/100 s), read once or sampled while a process runs.
 */

/** The user and system CPU ms of /proc/<path>/stat (a pid, or `<pid>/task/<tid>`). */
export function cpuTimesOf(path: number | string): { userMs: number; systemMs: number } {
  const stat = Deno.readTextFileSync(`/proc/${path}/stat`);
  // Fields after the command name (which may hold spaces): state ppid ... utime(12) stime(13).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Clock ticks are 1/100 s on Linux.
  return { userMs: Number(fields[11]) * 10, systemMs: Number(fields[12]) * 10 };
}

/** User + system CPU ms of a process or thread. */
export function cpuMsOf(path: number | string): number {
  const { userMs, systemMs } = cpuTimesOf(path);
  return userMs + systemMs;
}

/** The parent pid of a process, from /proc/<pid>/stat. */
function parentOf(pid: string): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/**
 * CPU ms of each of the process's threads, summed by thread name (the JS thread is the one
 * named after the binary; V8's helpers and the runtime's pools have their own names), with the
 * user / system split of the whole process.
 */
export function threadsCpuOf(pid: number): Record<string, number> {
  const byName: Record<string, number> = {};
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const name = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/comm`).trim()
        .replace(/[-_ ]?\d+$/, "");
      const ms = cpuMsOf(`${pid}/task/${task.name}`);
      byName[name] = (byName[name] ?? 0) + ms;
    } catch { /* thread ended */ }
  }
  const { userMs, systemMs } = cpuTimesOf(pid);
  byName["(user)"] = userMs;
  byName["(system)"] = systemMs;
  return byName;
}

/**
 * CPU time (user + system) of this process's children whose command line mentions `script`,
 * summed over them: /proc/<pid>/stat sampled every 200 ms, so up to 0.2 s of a process's last
 * moments can be missed. `stop()` ends the sampling and returns the ms.
 */
export function watchChildCpu(script: string) {
  const ms = new Map<number, number>();
  const sample = () => {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        if (parentOf(entry.name) !== Deno.pid) continue;
        if (!Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(script)) continue;
        ms.set(Number(entry.name), cpuMsOf(entry.name));
      } catch { /* gone */ }
    }
  };
  const timer = setInterval(sample, 200);
  return {
    stop() {
      clearInterval(timer);
      return [...ms.values()].reduce((sum, t) => sum + t, 0);
    },
  };
}
