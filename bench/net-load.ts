/**
 * The benchmarks' load generator (a child process of net-fixtures.ts LoadGenerator, so the
 * server under test and the client do not share one event loop): a closed loop of HTTPS
 * requests over mutual TLS on keep-alive connections (undici Pool), timing each one.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { residentCodeOf, type LoadRequest, type LoadResult } from './net-fixtures.ts';

async function run(r: LoadRequest): Promise<LoadResult> {
  const pool = new Pool(r.url, { connections: r.connections, pipelining: 1, connect: { ca: r.caPem, cert: r.certPem, key: r.keyPem } });
  const layout = r.layout;
  const body = (): string => {
    if (r.body === 'bare' || !layout) return '{}';
    const k = Math.floor(Math.random() * layout.municipalities.length);
    const j = Math.floor(Math.random() * layout.municipalities[k]!.count);
    return JSON.stringify({ affair: r.affair, residentCode: residentCodeOf(layout, k, j) });
  };
  let ok = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  let recording = false;
  const latencies: number[] = [];
  const one = async (): Promise<void> => {
    const t = performance.now();
    try {
      const res = await pool.request({ path: r.path, method: 'POST', headers: { 'content-type': 'application/json' }, body: body() });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${text.slice(0, 200)}`);
      if (recording) {
        ok++;
        latencies.push(performance.now() - t);
      }
    } catch (e) {
      if (recording) failed++;
      firstFailure ??= (e as Error).message;
    }
  };
  let stopAt = performance.now() + r.warmupSeconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) await one();
  };
  await Promise.all(Array.from({ length: r.concurrency }, worker));
  recording = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  stopAt = t0 + r.seconds * 1000;
  await Promise.all(Array.from({ length: r.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return {
    ok, failed, ...(firstFailure ? { firstFailure } : {}), seconds, p50: at(50), p99: at(99),
    mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

process.on('message', (m: LoadRequest) => {
  run(m).then((result) => process.send!(result), (e: Error) => process.send!({ error: e.stack ?? e.message }));
});
