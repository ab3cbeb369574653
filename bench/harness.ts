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
  for (let i = 0; i < (options.warmup ?? 200); i++) await op();
  const latencies: number[] = [];
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < batch; i++) {
      if (options.latencies) {
        const t = performance.now();
        await op();
        latencies.push(performance.now() - t);
      } else await op();
    }
    ops += batch;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { name, ops, seconds: elapsed, perSecond: ops / elapsed, ...(options.latencies ? { latencies } : {}) };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One printed line: `name  12,345/s  (0.82× baseline-name)`. */
export function report(m: Measurement, baseline?: Measurement, note = ''): string {
  const rate = `${Math.round(m.perSecond).toLocaleString('en-US')}/s`;
  const ratio = baseline ? `  ${(m.perSecond / baseline.perSecond).toFixed(2)}× ${baseline.name}` : '';
  return `  ${m.name.padEnd(58)} ${rate.padStart(12)}${ratio}${note ? '  ' + note : ''}`;
}

/** A benchmark file exports `benchmarks`: named groups that print their own lines. */
export interface Benchmark {
  readonly name: string;
  run(print: (line: string) => void): Promise<void>;
}
