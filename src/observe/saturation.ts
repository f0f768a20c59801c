// Measures, over the load window, whether this machine could keep the harness's clock: the event-loop
// lag of this process (timers, the load's sends, the local kubelet's deadlines all run on it), the
// machine's CPU busy fraction (/proc/stat) and, where the kernel has PSI, the share of the window in
// which some runnable task waited for a CPU (/proc/pressure/cpu). Judging the figures is
// src/verdict/trust.ts's job; this module only measures.
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

/** What the harness's own machine looked like during the window. */
export interface HarnessLoad {
  /** The measured window (ms). */
  windowMs: number;
  /** Event-loop delay of this process (ms): the worst, its 99th percentile, its mean. */
  eventLoop: { maxMs: number; p99Ms: number; meanMs: number; resolutionMs: number };
  /** /proc/stat: the fraction of all CPU time (every core) that was not idle or iowait; absent off Linux. */
  cpuBusy?: number;
  cores?: number;
  /**
   * /proc/pressure/cpu "some": the fraction of the window in which at least one runnable task waited
   * for a CPU (from the stall counter `total`), and the kernel's own avg10 at the end. Absent without PSI.
   */
  cpuPressure?: { someFraction: number; someAvg10: number };
  /**
   * This process's main thread (the event loop), from /proc/self/schedstat: the fractions of the window
   * it ran on a CPU and it waited, runnable, for one. The wait is the harness's own CPU starvation.
   */
  mainThread?: { runFraction: number; waitFraction: number };
}

/** /proc/<pid>/schedstat: "<ns on cpu> <ns waiting on a run queue> <timeslices>". Pure. */
export function parseSchedstat(text: string): { runNs: number; waitNs: number } | undefined {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  return run !== undefined && wait !== undefined && Number.isFinite(run) && Number.isFinite(wait)
    ? { runNs: run, waitNs: wait }
    : undefined;
}

/** /proc/stat's first line ("cpu  user nice system idle iowait irq softirq steal ..."): busy and total jiffies. Pure. */
export function parseProcStat(text: string): { busy: number; total: number; cores: number } | undefined {
  const lines = text.split("\n");
  const cpu = lines.find((l) => /^cpu\s/.test(l));
  if (!cpu) return undefined;
  const fields = cpu.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) return undefined;
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total, cores: lines.filter((l) => /^cpu\d+\s/.test(l)).length };
}

/** /proc/pressure/cpu's "some" line: avg10 (percent) and total (µs stalled). Pure. */
export function parsePressure(text: string): { avg10: number; totalUs: number } | undefined {
  const m = /^some\s+avg10=([\d.]+)\s+avg60=[\d.]+\s+avg300=[\d.]+\s+total=(\d+)/m.exec(text);
  return m ? { avg10: Number(m[1]), totalUs: Number(m[2]) } : undefined;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export interface SaturationProbe {
  /** Ends the measurement and returns the window's figures. */
  stop(): HarnessLoad;
}

export interface SaturationSources {
  readStat?: () => string | undefined;
  readPressure?: () => string | undefined;
  readSchedstat?: () => string | undefined;
  now?: () => number;
}

/** Starts measuring now; stop() at the end of the window. Cheap: a histogram and two file reads. */
export function startSaturationProbe(sources: SaturationSources = {}): SaturationProbe {
  const readStat = sources.readStat ?? (() => readOptional("/proc/stat"));
  const readPressure = sources.readPressure ?? (() => readOptional("/proc/pressure/cpu"));
  const readSchedstat = sources.readSchedstat ?? (() => readOptional("/proc/self/schedstat"));
  const now = sources.now ?? Date.now;
  const resolutionMs = 10;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const startedAt = now();
  const stat0 = parseProcStat(readStat() ?? "");
  const psi0 = parsePressure(readPressure() ?? "");
  const sched0 = parseSchedstat(readSchedstat() ?? "");
  return {
    stop() {
      histogram.disable();
      const windowMs = Math.max(1, now() - startedAt);
      const stat1 = parseProcStat(readStat() ?? "");
      const psi1 = parsePressure(readPressure() ?? "");
      const sched1 = parseSchedstat(readSchedstat() ?? "");
      const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
      const out: HarnessLoad = {
        windowMs,
        eventLoop: {
          // The histogram counts the sampling interval itself: what exceeds it is the lag.
          maxMs: Math.max(0, ms(histogram.max) - resolutionMs),
          p99Ms: Math.max(0, ms(histogram.percentile(99)) - resolutionMs),
          meanMs: Math.max(0, ms(histogram.mean) - resolutionMs),
          resolutionMs,
        },
      };
      if (stat0 && stat1 && stat1.total > stat0.total) {
        out.cpuBusy = (stat1.busy - stat0.busy) / (stat1.total - stat0.total);
        out.cores = stat1.cores;
      }
      if (psi0 && psi1) {
        const fraction = (psi1.totalUs - psi0.totalUs) / 1000 / windowMs;
        out.cpuPressure = { someFraction: Math.min(1, Math.max(0, fraction)), someAvg10: psi1.avg10 / 100 };
      }
      if (sched0 && sched1) {
        const share = (ns: number) => Math.min(1, Math.max(0, ns / 1e6 / windowMs));
        out.mainThread = {
          runFraction: share(sched1.runNs - sched0.runNs),
          waitFraction: share(sched1.waitNs - sched0.waitNs),
        };
      }
      return out;
    },
  };
}
