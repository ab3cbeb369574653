/**
 * A small benchmark harness: time an operation for a bounded wall-clock budget (after a
 * warm-up) and report operations per second. Every figure is printed beside a baseline
 * measured in the same run, so ratios hold across machines; nothing here asserts a time.
 */
import { performance } from 'node:perf_hooks';

export interface Measurement {
  readonly name: string;
  readonly ops: number;
  readonly seconds: number;
  readonly perSecond: number;
  /**
   * Operations per second of this process's CPU time (user + system). On a machine shared
   * with other work the wall-clock rate falls with the share of a core the process gets;
   * this one measures the cost of the operation itself ("on one core").
   */
  readonly perCpuSecond: number;
  /** Per-operation latencies in ms, when asked for (for percentiles). */
  readonly latencies?: number[];
}

export interface MeasureOptions {
  /** Wall-clock budget in seconds (default 1, or $JUKI_BENCH_SECONDS). */
  readonly seconds?: number;
  /** Warm-up operations before timing (default 200). */
  readonly warmup?: number;
  /** Operations per timing batch (default 100). */
  readonly batch?: number;
  /** Record each operation's latency. */
  readonly latencies?: boolean;
}

export function budget(): number {
  const s = Number(process.env.JUKI_BENCH_SECONDS ?? '1');
  return Number.isFinite(s) && s > 0 ? s : 1;
}

/** Measure a synchronous or asynchronous operation. */
export async function measure(name: string, op: () => unknown | Promise<unknown>, options: MeasureOptions = {}): Promise<Measurement> {
  const seconds = options.seconds ?? budget();
  const batch = options.batch ?? 100;
  // Await only what is a promise: an `await` per synchronous operation would add a microtask
  // turn to every one and measure the event loop instead of the operation.
  const run = async (): Promise<void> => {
    const r = op();
    if (r instanceof Promise) await r;
  };
  const sync = !(op() instanceof Promise);
  for (let i = 0; i < (options.warmup ?? 200); i++) {
    if (sync) op();
    else await run();
  }
  const latencies: number[] = [];
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < batch; i++) {
      if (options.latencies) {
        const t = performance.now();
        if (sync) op();
        else await run();
        latencies.push(performance.now() - t);
      } else if (sync) op();
      else await run();
    }
    ops += batch;
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { name, ops, seconds: elapsed, perSecond: ops / elapsed, perCpuSecond: ops / Math.max(cpuSeconds, 1e-9), ...(options.latencies ? { latencies } : {}) };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * One printed line: `name  12,345/s  13,002/CPU-s  0.82× baseline-name`. The ratio is of the
 * CPU-time rates (`cpu: false`: of the wall-clock rates, for I/O-bound work such as fsync).
 */
export function report(m: Measurement, baseline?: Measurement, note = '', options: { cpu?: boolean } = {}): string {
  const cpu = options.cpu ?? true;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const rate = `${fmt(m.perSecond)}/s`;
  const cpuRate = `${fmt(m.perCpuSecond)}/CPU-s`;
  const ratio = baseline ? `  ${(cpu ? m.perCpuSecond / baseline.perCpuSecond : m.perSecond / baseline.perSecond).toFixed(2)}× ${baseline.name}` : '';
  return `  ${m.name.padEnd(52)} ${rate.padStart(10)} ${cpuRate.padStart(15)}${ratio}${note ? '  ' + note : ''}`;
}

/** A benchmark file exports `benchmarks`: named groups that print their own lines. */
export interface Benchmark {
  readonly name: string;
  run(print: (line: string) => void): Promise<void>;
}
