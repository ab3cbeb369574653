/**
 * The deterministic simulation in CI: 1,000 seeds of small real-code networks (municipalities
 * -> prefectures -> national -> agencies) with lost, duplicated, delayed and reordered
 * messages and acknowledgements, and nodes crashing (also mid-transaction) and restarting.
 * `npm run sim` runs more; a failing seed is replayed with `npm run sim -- --seed N`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replayCommand, runSeed, runSeeds } from '../../src/net/sim/index.ts';

test('1,000 seeds: every status change reaches every node it must, once, in order, and all nodes agree; no agency accepts a card it was told is suspended', async () => {
  let checks = 0;
  let refused = 0;
  const summary = await runSeeds(1, 1000, { maxFailures: 5, onResult: (r) => ((checks += r.checks), (refused += r.refused)) });
  const report = summary.failed.map((f) => `seed ${f.seed} (replay: ${replayCommand(f.seed)}):\n  ${f.violations.slice(0, 5).join('\n  ')}`);
  assert.deepEqual(report, [], report.join('\n'));
  assert.ok(summary.changes > 5000, `expected a real workload, got ${summary.changes} status changes`);
  // The agency invariant is exercised: desks checked cards, and refused noticed ones.
  assert.ok(checks > 5000 && refused > 500, `expected agency checks with refusals, got ${checks} checks, ${refused} refused`);
});

test('a seed replays exactly: same events, same virtual time, same outcome', async () => {
  const lines: string[][] = [[], []];
  const a = await runSeed(4242, { trace: (l) => lines[0]!.push(l) });
  const b = await runSeed(4242, { trace: (l) => lines[1]!.push(l) });
  assert.deepEqual(a, b);
  assert.deepEqual(lines[0], lines[1]);
  assert.ok(lines[0]!.length > 10);
});

test('a seed that does not converge within its budget fails and says how to replay it', async () => {
  const r = await runSeed(9, { maxEvents: 20 });
  assert.equal(r.ok, false);
  assert.match(r.violations[0]!, /^budget exceeded: 20 events/);
  assert.equal(replayCommand(9), 'npm run sim -- --seed 9');
});
