// npm run fuzz [-- --apdus N] [--seed S]: the card fuzzer at 1,000,000 APDUs (test/card/fuzzer.ts).
import { fuzzCard } from '../test/card/fuzzer.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const total = opt('--apdus') ?? 1_000_000;
const seed = opt('--seed') ?? Date.now() % 2 ** 31;
const perRun = 1000;
const started = Date.now();
let last = 0;
console.log(`fuzz: ${total} APDUs, seed ${seed}`);
const r = fuzzCard({
  runs: Math.ceil(total / (perRun * 0.98)), // resets in the mix are not APDUs
  perRun,
  seed,
  onProgress: (n) => {
    if (n - last >= 100_000) {
      last = n;
      console.log(`  ${n} APDUs, ${Math.round(n / ((Date.now() - started) / 1000))}/s`);
    }
  },
});
console.log(`fuzz: ${r.apdus} APDUs, no failure (${((Date.now() - started) / 1000).toFixed(1)} s, seed ${seed})`);
