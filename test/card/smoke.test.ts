import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeCard, readResidentCode, sw } from './helpers.ts';

test('smoke: personalise, set PIN, read resident code', () => {
  const { host, card } = activeCard();
  const r = readResidentCode(host);
  assert.equal(sw(r.sw), '9000');
  assert.equal(Buffer.from(r.data).toString(), '12345678901');
  assert.ok(card.powered);
});
