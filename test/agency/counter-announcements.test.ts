/**
 * What the counter announces for the agencies' and the national center's sake: the holder's
 * resident code in every `card.status` (the card yes/no flag, R3.2.1ka), and every register
 * change of a municipality node as `identity.changed` to its prefecture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openCounter } from '../../src/cs/index.ts';
import { Outbox, SqlNetStore, identityChangesTo } from '../../src/net/index.ts';
import { municipalityBooks } from '../../src/cli/roles.ts';
import { openTestDb } from '../helpers/db.ts';
import { CHIYODA, CLERK, issueNew, outbox, resident, setUp, withWorld } from '../cs/fixtures.ts';

test('[R3.2.1ka counter] every card.status the counter sends names the holder\'s resident code', async () => {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: ['10000000017'], cards: ['SN0001'] });
    await w.counter.stock.rekeyPending(CLERK, 'LOT1').catch(() => undefined);
    const card = await issueNew(w, '10000000017', 'SN0001');
    await w.counter.issuance.activateOnPinSet(CLERK, card);
    await w.counter.status.change(CLERK, card, 'lost');
    const sent = (await outbox(w)).filter((m) => m.type === 'card.status');
    assert.ok(sent.length >= 2);
    for (const m of sent) assert.equal(m.body.residentCode, '10000000017');
  });
});

test('[R3.2.1ka counter] a municipality node\'s register announces each change as identity.changed to its prefecture, in the change\'s transaction', async () => {
  const database = await openTestDb();
  try {
    const out = new Outbox(new SqlNetStore(database), `municipality-${CHIYODA}`);
    const books = municipalityBooks(database, CHIYODA, { identityChanges: identityChangesTo(out, `municipality-${CHIYODA}`, 'prefecture-13') });
    const counter = openCounter(database, CHIYODA, books);
    await counter.ctx.register.register(resident('10000000017'), { reason: 'entry', date: '2020-04-01' });
    const rows = await database.db.selectFrom('net_outbox').selectAll().execute();
    const msgs = rows.map((r) => JSON.parse(r.envelope));
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].type, 'identity.changed');
    assert.equal(msgs[0].to, 'prefecture-13');
    assert.equal(msgs[0].body.residentCode, '10000000017');
    const audited = await database.db.selectFrom('audit_entries').select('event_type').execute();
    assert.ok(audited.some((a) => a.event_type === 'resident.registered'));
  } finally {
    await database.close();
  }
});
