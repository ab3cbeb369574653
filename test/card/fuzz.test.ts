import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzCard } from './fuzzer.ts';

test('[R2.2.5] fuzz: 100,000 generated and mutated APDUs: no uncaught exception, no PIN, key or secret in any response, unknown SWs never, the card works afterwards', () => {
  const r = fuzzCard({ runs: 100, perRun: 1100 });
  assert.ok(r.apdus >= 100_000, `sent ${r.apdus}`);
});
