// The deterministic Juki-net simulation (src/net/sim, docs/network.md).
//
//   npm run sim                         seeds 1..10000
//   npm run sim -- --seeds 50000        seeds 1..50000
//   npm run sim -- --from 7000 --seeds 100
//   npm run sim -- --seed 1234          replay one seed with a full trace
//
// Exits 1 if any seed breaks an invariant, printing each failing seed and its replay command.
import { parseArgs } from 'node:util';
import { replayCommand, runSeed, runSeeds } from '../src/net/sim/index.ts';

const { values } = parseArgs({ options: { seed: { type: 'string' }, seeds: { type: 'string' }, from: { type: 'string' } } });
const int = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  if (!/^\d{1,9}$/.test(text)) {
    console.error(`sim: --${name}: expected a non-negative integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return Number(text);
};

if (values.seed !== undefined) {
  const r = await runSeed(int('seed', values.seed, 0), { trace: (line) => console.log(line) });
  console.log(`seed ${r.seed}: ${r.ok ? 'ok' : 'FAILED'}: ${r.nodes} nodes, ${r.cards} cards, ${r.changes} changes, ${r.crashes} crashes, ${r.events} events, ${r.virtualMs} virtual ms`);
  for (const v of r.violations) console.log(`  ${v}`);
  process.exit(r.ok ? 0 : 1);
}

const from = int('from', values.from, 1);
const count = int('seeds', values.seeds, 10_000);
let done = 0;
const summary = await runSeeds(from, count, {
  maxFailures: 20,
  onResult: () => {
    if (++done % 1000 === 0) process.stderr.write(`  ${done} seeds...\n`);
  },
});
for (const f of summary.failed) {
  console.log(`seed ${f.seed} FAILED (replay: ${replayCommand(f.seed)}):`);
  for (const v of f.violations.slice(0, 10)) console.log(`  ${v}`);
}
console.log(`${done} seeds from ${from}: ${summary.failed.length} failed; ${summary.changes} status changes, ${summary.events} events; ${(summary.ms / 1000).toFixed(1)} s (${((done * 1000) / summary.ms).toFixed(0)} seeds/s)`);
process.exit(summary.failed.length ? 1 : 0);
