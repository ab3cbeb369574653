/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line) and
 * prints figures with same-run baselines. Budget per measurement: $JUKI_BENCH_SECONDS (1).
 * Results belong in docs/benchmarks.md, with the command that produced them.
 */
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Benchmark } from './harness.ts';

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error(`bench: no benchmark matches ${only.join(' ')}`);
  process.exit(2);
}
console.log(`juki benchmarks: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${new Date().toISOString()}`);
for (const f of files) {
  const mod = (await import(`./${f}`)) as { benchmarks: Benchmark[] };
  for (const b of mod.benchmarks) {
    console.log(`\n${b.name} (${f})`);
    await b.run((line) => console.log(line));
  }
}
