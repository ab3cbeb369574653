/**
 * Juki-net routes end to end over real transports (in-process and HTTPS with mutual TLS), each
 * node on its own database (openTestDb: SQLite, or PostgreSQL with JUKI_TEST_DB), driven by
 * the nodes' real relays, inboxes and role handlers.
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import type { Transaction } from 'kysely';
import type { Schema } from '../../src/db/index.ts';
import {
  HttpsQueryClient, IDENTITY_QUERY_PATH, createNetworkCa, issueNodeCertificate, type CardStatus, type CardStatusBody, type ReturnedCardBody,
} from '../../src/net/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { identityRecord, startTestNetwork, type Kind, type TestNetwork } from './harness.ts';

const SPECS = [
  { role: 'national' }, { role: 'prefecture', code: '13' }, { role: 'prefecture', code: '14' },
  { role: 'municipality', code: '131016' }, { role: 'municipality', code: '131024' }, { role: 'municipality', code: '141003' },
  { role: 'agency', code: 'passport' }, { role: 'agency', code: 'pension' }, { role: 'jpki' },
] as const;

const ALICE = '10000000017'; // resident of 131016
const BOB = '10000000025'; // resident of 141003
const CAROL = '10000000041'; // resident of 131016, one card

async function cardStatus(net: TestNetwork, municipality: string, cardNumber: string, status: CardStatus, version: number, residentCode?: string): Promise<CardStatusBody> {
  const id = `municipality-${municipality}`;
  const node = net.node(id);
  const body: CardStatusBody = { cardNumber, status, issuer: municipality, version, changedAt: new Date(net.now).toISOString(), ...(residentCode ? { residentCode } : {}) };
  await node.db.transaction((trx) => node.net.net.outbox.enqueue(trx, { type: 'card.status', from: id, to: `prefecture-${municipality.slice(0, 2)}`, body }));
  return body;
}

async function announce(net: TestNetwork, municipality: string, residentCode: string, version: number, o: Parameters<typeof identityRecord>[2] = {}): Promise<void> {
  const id = `municipality-${municipality}`;
  const node = net.node(id);
  await node.db.transaction((trx) => node.net.net.outbox.enqueue(trx, {
    type: 'identity.changed', from: id, to: `prefecture-${municipality.slice(0, 2)}`,
    body: { residentCode, municipality, version, record: identityRecord(residentCode, municipality, o) },
  }));
}

async function known(net: TestNetwork, id: string, cardNumber: string) {
  return net.nodes.get(id)!.db.db.selectFrom('net_card_status').select(['status', 'version']).where('card_number', '=', cardNumber).executeTakeFirst();
}

async function auditOf(net: TestNetwork, id: string, type: string) {
  const entries = await new AuditLog(net.nodes.get(id)!.db, id).list({ limit: 1000 });
  return entries.filter((e) => e.type === type);
}

for (const kind of ['in-process', 'https'] as Kind[]) {
  describe(`Juki-net routes (${kind})`, () => {
    let net: TestNetwork;
    const returned: { node: string; body: ReturnedCardBody; from: string }[] = [];
    let hookArmed = true;

    before(async () => {
      net = await startTestNetwork(kind, SPECS, {
        // A stub of the CS books (src/cs/moves.ts applyReturnedCard): records the call and
        // writes in the inbox's transaction, which proves it runs inside it.
        returnedCard: (node) => async (trx: Transaction<Schema>, body, from) => {
          if (!hookArmed) throw new Error('books not ready');
          await new AuditLog(net.nodes.get(node)!.db, node).append(trx, { type: 'net.checkpoint.held', actor: { kind: 'node', id: from }, subject: { kind: 'node', id: from }, details: { seq: 0, headHash: '0'.repeat(64), at: body.receivedAt } });
          returned.push({ node, body, from });
        },
      });
    });
    after(async () => {
      await net?.close();
    });

    test(`[R3.2.1u] a status change committed at a municipality reaches its prefecture exactly once, even with the prefecture down for a while (${kind})`, async () => {
      await net.stop('prefecture-13');
      const body = await cardStatus(net, '131016', 'U-0001', 'active', 1, ALICE);
      await net.pump();
      const m = net.node('municipality-131016');
      let pending = await m.net.net.outbox.pending();
      assert.equal(pending.undelivered.length, 1, 'kept while the prefecture is down');
      assert.match(pending.undelivered[0]!.lastError ?? '', /JUKI_ERR_NET_DELIVERY/);
      assert.equal(await known(net, 'prefecture-13', 'U-0001'), undefined);
      await net.start('prefecture-13');
      net.now += 10 * 60_000; // past the backoff
      await net.pump();
      pending = await m.net.net.outbox.pending();
      assert.equal(pending.undelivered.length, 0);
      assert.deepEqual(await known(net, 'prefecture-13', 'U-0001'), { status: 'active', version: 1 });
      const rows = await net.nodes.get('prefecture-13')!.db.db.selectFrom('net_inbox').select(['id', 'state']).where('ordering_key', '=', 'U-0001').where('sender', '=', 'municipality-131016').execute();
      assert.equal(rows.length, 1, 'applied once');
      assert.equal(body.version, 1);
    });

    test(`[R3.2.1e] the prefecture passes every status of its municipalities' cards to the national center, in order (${kind})`, async () => {
      await cardStatus(net, '131024', 'E-0001', 'active', 1);
      await cardStatus(net, '131024', 'E-0001', 'suspended', 2);
      await cardStatus(net, '131024', 'E-0001', 'active', 3);
      await net.pump();
      assert.deepEqual(await known(net, 'prefecture-13', 'E-0001'), { status: 'active', version: 3 });
      assert.deepEqual(await known(net, 'national', 'E-0001'), { status: 'active', version: 3 });
      const seen = await net.nodes.get('national')!.db.db.selectFrom('net_inbox').select('envelope').where('ordering_key', '=', 'E-0001').orderBy('seq').execute();
      assert.deepEqual(seen.map((r) => (JSON.parse(r.envelope) as { body: CardStatusBody }).body.version), [1, 2, 3]);
      assert.equal(await known(net, 'prefecture-14', 'E-0001'), undefined, 'another prefecture hears nothing of it');
    });

    test(`[R3.2.1o] every card-verifying agency gets suspension and abolition notices and keeps them (${kind})`, async () => {
      await cardStatus(net, '141003', 'O-0001', 'active', 1, BOB);
      await cardStatus(net, '141003', 'O-0002', 'active', 1);
      await net.pump();
      for (const a of ['agency-passport', 'agency-pension']) assert.equal(await net.node(a).net.net.agency!.list.forCard('O-0001'), undefined, 'an active card is no notice');
      await cardStatus(net, '141003', 'O-0001', 'suspended', 2, BOB);
      await cardStatus(net, '141003', 'O-0002', 'abolished', 2);
      await net.pump();
      // Kept across a restart of the agency (it is in the agency's database).
      await net.stop('agency-pension');
      await net.start('agency-pension');
      for (const a of ['agency-passport', 'agency-pension']) {
        const list = net.node(a).net.net.agency!.list;
        assert.equal((await list.forCard('O-0001'))?.status, 'suspended', a);
        assert.equal((await list.forCard('O-0002'))?.status, 'abolished', a);
        assert.deepEqual((await list.forResident(BOB)).map((n) => n.cardNumber), ['O-0001']);
      }
      const noticed = await auditOf(net, 'national', 'net.card.noticed');
      assert.ok(noticed.some((e) => e.subject === 'card:O-0001' || JSON.stringify(e).includes('O-0001')));
      // A lifted suspension clears the notice; a repeated old notice does not bring it back.
      await cardStatus(net, '141003', 'O-0001', 'active', 3, BOB);
      await net.pump();
      assert.equal((await net.node('agency-passport').net.net.agency!.list.forCard('O-0001'))?.status, 'active');
    });

    test(`[R3.2.1i] [R3.2.1i network] a card returned at a move-in municipality is reported to its issuer, which marks it collected through the books, once (${kind})`, async () => {
      const from = net.node('municipality-131024');
      const body: ReturnedCardBody = { cardNumber: 'I-0001', issuer: '131016', receivedBy: '131024', receivedAt: new Date(net.now).toISOString() };
      hookArmed = false;
      await from.db.transaction((trx) => from.net.net.outbox.enqueue(trx, { type: 'card.returned', from: 'municipality-131024', to: 'municipality-131016', body }));
      await net.pump();
      assert.equal(returned.length, 0, 'the books failed: nothing applied');
      assert.equal((await from.net.net.outbox.pending()).undelivered.length, 1, 'and the report is kept by the sender');
      hookArmed = true;
      net.now += 10 * 60_000;
      await net.pump();
      assert.deepEqual(returned, [{ node: 'municipality-131016', body, from: 'municipality-131024' }]);
      assert.equal((await from.net.net.outbox.pending()).undelivered.length, 0);
      // A municipality cannot send it to a prefecture, nor claim to be another (authoriser).
      const refused = await auditOf(net, 'municipality-131016', 'net.message.refused');
      assert.equal(refused.length, 0);
    });

    test(`[R3.2.1ka] an identity record answered to a municipality carries card yes while the card is active, else no (${kind})`, async () => {
      await announce(net, '131016', CAROL, 1, { family: '佐藤', given: '花子', birthDate: '1985-05-05', address: '東京都千代田区永田町1-7' });
      await cardStatus(net, '131016', 'KA-001', 'active', 1, CAROL);
      await net.pump();
      const ask = net.node('municipality-131024').net.net.queries;
      let a = await ask.query('national', { affair: 'juki.move-in', residentCode: CAROL });
      assert.equal(a.records.length, 1);
      assert.equal(a.records[0]!.record.name.family, '佐藤');
      assert.equal(a.records[0]!.card, 'yes');
      // By name, birth date and address, too.
      a = await ask.query('national', { affair: 'juki.move-in', name: { family: '佐藤', given: '花子' }, birthDate: '1985-05-05', address: '東京都千代田区永田町1-7' });
      assert.deepEqual(a.records.map((r) => [r.record.residentCode, r.card]), [[CAROL, 'yes']]);
      // The prefecture answers too, from what it recorded on the way.
      a = await ask.query('prefecture-13', { affair: 'juki.move-in', residentCode: CAROL });
      assert.equal(a.records[0]!.card, 'yes');
      await cardStatus(net, '131016', 'KA-001', 'suspended', 2, CAROL);
      await net.pump();
      a = await ask.query('national', { affair: 'juki.move-in', residentCode: CAROL });
      assert.equal(a.records[0]!.card, 'no');
      // Only municipalities get the flag.
      const p = await net.node('agency-passport').net.net.queries.query('national', { affair: 'agency.passport-issuance', residentCode: CAROL });
      assert.equal(p.records[0]!.card, undefined);
      const entries = await auditOf(net, 'national', 'net.identity.query');
      assert.ok(entries.some((e) => e.actor === 'node:municipality-131024' && e.outcome === 'success'));
    });

    test(`[R4.1.1] a municipality gets a non-resident's record only for affairs under the Act; its own residents for its own affairs; every decision audited (${kind})`, async () => {
      await announce(net, '141003', BOB, 1);
      await net.pump();
      const own = net.node('municipality-141003').net.net.queries;
      const other = net.node('municipality-131024').net.net.queries;
      assert.equal((await own.query('national', { affair: 'juki.register-accuracy', residentCode: BOB })).records.length, 1);
      const before = (await auditOf(net, 'national', 'net.identity.query')).length;
      await assert.rejects(other.query('national', { affair: 'juki.register-accuracy', residentCode: BOB }), (e: Error & { code?: string }) => e.code === 'JUKI_ERR_NET_AFFAIR_DENIED' && /R4\.1\.1/.test(e.message));
      await assert.rejects(other.query('national', { affair: 'municipality.karaoke', residentCode: BOB }), /not in the catalogue/);
      assert.equal((await other.query('national', { affair: 'juki.wide-area-copy', residentCode: BOB })).records.length, 1);
      const entries = (await auditOf(net, 'national', 'net.identity.query')).slice(before);
      assert.deepEqual(entries.map((e) => e.outcome), ['refused', 'refused', 'success']);
      assert.ok(entries.every((e) => e.actor === 'node:municipality-131024'));
      assert.equal(entries[0]!.reason, 'JUKI_ERR_NET_AFFAIR_DENIED');
    });

    test(`[R4.1.2] a prefecture gets records only for its statutory affairs (and own-prefecture affairs only for its residents) (${kind})`, async () => {
      const pref = net.node('prefecture-13').net.net.queries;
      assert.equal((await pref.query('national', { affair: 'prefecture.passport-application', residentCode: CAROL })).records.length, 1);
      await assert.rejects(pref.query('national', { affair: 'prefecture.passport-application', residentCode: BOB }), /R4\.1\.2: .*resident of 141003/);
      await assert.rejects(pref.query('national', { affair: 'agency.passport-issuance', residentCode: CAROL }), /R4\.1\.2: agency\.passport-issuance is not an affair of a prefecture/);
      await assert.rejects(pref.query('national', { affair: 'juki.move-in', residentCode: CAROL }), /R4\.1\.2/);
    });

    test(`[R4.1.3] an agency gets records only for the affairs the catalogue gives that agency (${kind})`, async () => {
      const passport = net.node('agency-passport').net.net.queries;
      const pension = net.node('agency-pension').net.net.queries;
      assert.equal((await passport.query('national', { affair: 'agency.passport-issuance', residentCode: BOB })).records.length, 1);
      assert.equal((await pension.query('national', { affair: 'agency.pension-benefits', residentCode: BOB })).records.length, 1);
      await assert.rejects(passport.query('national', { affair: 'agency.pension-benefits', residentCode: BOB }), /R4\.1\.3: agency\.pension-benefits is not an affair of agency passport/);
      await assert.rejects(pension.query('national', { affair: 'juki.move-in', residentCode: BOB }), /R4\.1\.3/);
    });

    test(`[R4.1.4] any other party gets nothing: another role's node, a certificate from another CA, no certificate (${kind})`, async () => {
      const before = (await auditOf(net, 'national', 'net.identity.query')).length;
      const jpki = net.node('jpki').net.net.queries;
      await assert.rejects(jpki.query('national', { affair: 'agency.passport-issuance', residentCode: BOB }), /R4\.1\.4: a jpki node is not a municipality, prefecture or agency/);
      const rogueCa = await createNetworkCa();
      const rogue = await issueNodeCertificate(rogueCa, { role: 'agency', code: 'passport' });
      if (kind === 'in-process') {
        const plan = net.plan as Extract<typeof net.plan, { kind: 'in-process' }>;
        await assert.rejects(plan.queries.connect(rogue.certPem).query('national', { affair: 'agency.passport-issuance', residentCode: BOB }), /R4\.1\.4: no certificate/);
        await assert.rejects(plan.queries.connect(undefined).query('national', { affair: 'agency.passport-issuance', residentCode: BOB }), /R4\.1\.4: no certificate/);
        const entries = (await auditOf(net, 'national', 'net.identity.query')).slice(before);
        assert.deepEqual(entries.map((e) => [e.actor, e.outcome]), [['node:jpki', 'refused'], ['system', 'refused'], ['system', 'refused']]);
      } else {
        const address = net.topology.node('national')!.address!;
        // No client certificate, or one from another CA: the TLS handshake fails, no route is reached.
        const bare = await request(`${address}${IDENTITY_QUERY_PATH}`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ affair: 'agency.passport-issuance', residentCode: BOB }),
          dispatcher: new (await import('undici')).Agent({ connect: { ca: net.pki.caPem } }),
        }).then((r) => r.statusCode, (e: Error) => e);
        assert.ok(bare instanceof Error, `expected a refused handshake, got ${String(bare)}`);
        const forged = new HttpsQueryClient({ credentials: rogue, caPem: net.pki.caPem, addressOf: (n) => net.topology.node(n)?.address });
        await assert.rejects(forged.query('national', { affair: 'agency.passport-issuance', residentCode: BOB }), (e: Error & { code?: string }) => e.code === 'JUKI_ERR_NET_DELIVERY');
        await forged.close();
        const entries = (await auditOf(net, 'national', 'net.identity.query')).slice(before);
        assert.deepEqual(entries.map((e) => [e.actor, e.outcome]), [['node:jpki', 'refused']]);
      }
    });

    test(`[R4.2.2 network] an agency reads the resident code, checks its notice list, then gets the record; a noticed card gets no record, in that order (${kind})`, async () => {
      await announce(net, '131024', '10000000033', 1, { family: '鈴木', given: '一郎' });
      await cardStatus(net, '131024', 'V-0001', 'active', 1, '10000000033');
      await net.pump();
      const desk = net.node('agency-passport').net.net.agency!.verifier;
      const ok = await desk.checkCard({ residentCode: '10000000033', cardNumber: 'V-0001' }, 'agency.passport-issuance');
      assert.equal(ok.accepted, true);
      assert.equal(ok.accepted && ok.record.name.family, '鈴木');
      await cardStatus(net, '131024', 'V-0001', 'suspended', 2, '10000000033');
      await net.pump();
      const asked = (await auditOf(net, 'national', 'net.identity.query')).length;
      const refused = await desk.checkCard({ residentCode: '10000000033', cardNumber: 'V-0001' }, 'agency.passport-issuance');
      assert.deepEqual(refused.accepted === false && [refused.code, refused.source, (refused as { status?: string }).status], ['JUKI_ERR_AGENCY_CARD_NOTICED', 'notice-list', 'suspended']);
      assert.equal((await auditOf(net, 'national', 'net.identity.query')).length, asked, 'nothing was asked of Juki-net');
      const checks = await auditOf(net, 'agency-passport', 'agency.card.checked');
      assert.deepEqual(checks.slice(-2).map((e) => e.outcome), ['success', 'refused']);
      // Whichever node learned of it first: the national center knows of an abolition whose
      // notice has not reached the agency yet (the agency is down); the agency refuses all the same.
      await cardStatus(net, '131024', 'V-0002', 'active', 1, '10000000033');
      await net.pump();
      await net.stop('agency-pension');
      await cardStatus(net, '131024', 'V-0002', 'abolished', 2, '10000000033');
      await net.pump();
      await net.start('agency-pension');
      const pension = net.node('agency-pension').net.net.agency!;
      assert.equal(await pension.list.forCard('V-0002'), undefined, 'notice not there yet');
      const r = await pension.verifier.checkCard({ residentCode: '10000000033', cardNumber: 'V-0002' }, 'agency.pension-benefits');
      assert.deepEqual(r.accepted === false && [r.code, r.source, (r as { status?: string }).status], ['JUKI_ERR_AGENCY_CARD_NOTICED', 'national', 'abolished']);
      net.now += 10 * 60_000;
      await net.pump();
      assert.equal((await pension.list.forCard('V-0002'))?.status, 'abolished', 'and the notice arrives later');
    });
  });
}
