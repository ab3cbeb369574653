/** The counter API over HTTP (fastify.inject): sign-in by operator card, permissions, bad input, refusals, the OpenAPI document. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { counterHttpPlugin } from '../../src/cs/index.ts';
import { createServer } from '../../src/web/server.ts';
import { auditTypes, operatorSign, setUp, withWorld, type World } from './fixtures.ts';
import { openTestDb } from '../helpers/db.ts';

const P = '/municipality-131016';

async function withApi(fn: (app: FastifyInstance, w: World) => Promise<void>): Promise<void> {
  await withWorld(openTestDb(), async (w) => {
    await setUp(w, { residents: ['10000000001'] });
    const app = await createServer({ nodes: [], version: 'test', plugins: [{ prefix: P, plugin: counterHttpPlugin(w.counter) }] });
    try {
      await fn(app, w);
    } finally {
      await app.close();
    }
  });
}

async function signIn(app: FastifyInstance, w: World, staffId: string, terminalId?: string): Promise<string> {
  const c = await app.inject({ method: 'POST', url: `${P}/login/challenge`, payload: { staffId } });
  assert.equal(c.statusCode, 200, c.body);
  const { challengeId, challenge } = c.json();
  const r = await app.inject({ method: 'POST', url: `${P}/login`, payload: { challengeId, signature: operatorSign(w, staffId, challenge), ...(terminalId ? { terminalId } : {}) } });
  assert.equal(r.statusCode, 200, r.body);
  return r.json().token;
}

test('the OpenAPI document lists the counter routes with their schemas', async () => {
  await withApi(async (app) => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of ['/login/challenge', '/login', '/staff', '/terminals', '/stock/lots', '/stock/take-out', '/stock/reconcile', '/applications', '/issuances', '/cards/{cardNumber}/status', '/cards/{cardNumber}/pin-set', '/returned-cards']) {
      assert.ok(doc.paths[`${P}${path}`], `${path} in the OpenAPI document`);
    }
    const apply = doc.paths[`${P}/applications`].post;
    assert.ok(apply.requestBody.content['application/json'].schema.properties.residentCode);
    assert.ok(apply.responses['201']);
    assert.ok(apply.responses['422']);
  });
});

test('operator-card sign-in: a valid signature opens a session; a wrong one or a reused challenge is refused 401 and audited', async () => {
  await withApi(async (app, w) => {
    const token = await signIn(app, w, 'clerk1', 'T1');
    const me = await app.inject({ method: 'GET', url: `${P}/me`, headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual([me.statusCode, me.json().staffId, me.json().role, me.json().terminalId], [200, 'clerk1', 'clerk', 'T1']);
    // P1363 (r||s) signatures are accepted too.
    const c = (await app.inject({ method: 'POST', url: `${P}/login/challenge`, payload: { staffId: 'super1' } })).json();
    const p1363 = await app.inject({ method: 'POST', url: `${P}/login`, payload: { challengeId: c.challengeId, signature: operatorSign(w, 'super1', c.challenge, 'ieee-p1363') } });
    assert.equal(p1363.statusCode, 200);
    const again = await app.inject({ method: 'POST', url: `${P}/login`, payload: { challengeId: c.challengeId, signature: operatorSign(w, 'super1', c.challenge) } });
    assert.deepEqual([again.statusCode, again.json().code], [401, 'JUKI_ERR_CS_LOGIN_FAILED']);
    const c2 = (await app.inject({ method: 'POST', url: `${P}/login/challenge`, payload: { staffId: 'super1' } })).json();
    const forged = await app.inject({ method: 'POST', url: `${P}/login`, payload: { challengeId: c2.challengeId, signature: operatorSign(w, 'clerk1', c2.challenge) } });
    assert.deepEqual([forged.statusCode, forged.json().code], [401, 'JUKI_ERR_CS_LOGIN_FAILED']);
    assert.match(forged.json().message, /does not verify/);
    const logins = (await auditTypes(w)).filter((a) => a.type === 'cs.staff.login').map((a) => [a.outcome, a.details.staff]);
    assert.deepEqual(logins, [['success', 'clerk1'], ['success', 'super1'], ['refused', 'unknown'], ['refused', 'super1']]);
    const out = await app.inject({ method: 'POST', url: `${P}/logout`, headers: { authorization: `Bearer ${token}` } });
    assert.equal(out.statusCode, 200);
    const after = await app.inject({ method: 'GET', url: `${P}/me`, headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual([after.statusCode, after.json().code], [401, 'JUKI_ERR_CS_UNAUTHENTICATED']);
  });
});

test('permissions: no session is 401, a role without the permission is 403; every decision is audited', async () => {
  await withApi(async (app, w) => {
    const none = await app.inject({ method: 'GET', url: `${P}/staff` });
    assert.deepEqual([none.statusCode, none.json().code], [401, 'JUKI_ERR_CS_UNAUTHENTICATED']);
    const clerk = await signIn(app, w, 'clerk1');
    const denied = await app.inject({ method: 'POST', url: `${P}/stock/lots`, headers: { authorization: `Bearer ${clerk}` }, payload: { lot: 'LOT9', transportKeyRef: 'ref', serials: ['SN0009'] } });
    assert.deepEqual([denied.statusCode, denied.json().code], [403, 'JUKI_ERR_CS_FORBIDDEN']);
    assert.match(denied.json().message, /the clerk role does not have the stock\.receive permission/);
    assert.equal((await w.database.db.selectFrom('cs_lots').selectAll().execute()).length, 0);
    const admin = await signIn(app, w, 'admin1');
    const list = await app.inject({ method: 'GET', url: `${P}/staff`, headers: { authorization: `Bearer ${admin}` } });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().length, 5);
    assert.equal(list.json()[0].publicKey, undefined, 'undeclared fields never leak');
    const access = (await auditTypes(w)).filter((a) => a.type === 'cs.access').map((a) => [a.outcome, a.details.permission]);
    assert.deepEqual(access, [['refused', 'stock.receive'], ['success', 'staff.manage']]);
  });
});

test('bad input is answered 400 naming the field, and nothing is written', async () => {
  await withApi(async (app, w) => {
    const keeper = await signIn(app, w, 'keeper1');
    const auth = { authorization: `Bearer ${keeper}` };
    const bad = await app.inject({ method: 'POST', url: `${P}/stock/lots`, headers: auth, payload: { lot: 'LOT9', transportKeyRef: 'ref', serials: ['SN0009', 'not a serial'] } });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual([bad.json().code, bad.json().details.field], ['JUKI_ERR_INVALID_INPUT', 'serials.1']);
    assert.match(bad.json().message, /^body\.serials\.1: must match pattern/);
    const missing = await app.inject({ method: 'POST', url: `${P}/stock/lots`, headers: auth, payload: { lot: 'LOT9', serials: ['SN0009'] } });
    assert.deepEqual([missing.statusCode, missing.json().details.field], [400, 'transportKeyRef']);
    assert.equal((await w.database.db.selectFrom('cs_stock').selectAll().execute()).length, 0);
    assert.equal((await w.database.db.selectFrom('cs_lots').selectAll().execute()).length, 0);
    const clerk = await signIn(app, w, 'clerk1');
    const kind = await app.inject({ method: 'POST', url: `${P}/applications`, headers: { authorization: `Bearer ${clerk}` }, payload: { kind: 'upgrade', residentCode: '10000000001', terminalId: 'T1' } });
    assert.deepEqual([kind.statusCode, kind.json().details.field], [400, 'kind']);
    assert.equal((await w.database.db.selectFrom('cs_applications').selectAll().execute()).length, 0);
  });
});

test('the counter end to end over HTTP: receive, take out, apply, issue, PIN set, a refusal with its reason code, a status change', async () => {
  await withApi(async (app, w) => {
    const keeper = { authorization: `Bearer ${await signIn(app, w, 'keeper1')}` };
    const clerk = { authorization: `Bearer ${await signIn(app, w, 'clerk1', 'T1')}` };
    const lot = await app.inject({ method: 'POST', url: `${P}/stock/lots`, headers: keeper, payload: { lot: 'LOT1', transportKeyRef: 'maker:LOT1', serials: ['SN0001', 'SN0002'] } });
    assert.deepEqual(lot.json().results.map((r: { state: string }) => r.state), ['in-safe', 'in-safe']);
    const out = await app.inject({ method: 'POST', url: `${P}/stock/take-out`, headers: clerk, payload: { terminalId: 'T1' } });
    assert.deepEqual([out.statusCode, out.json().serial, out.json().state], [200, 'SN0001', 'taken-out']);
    const again = await app.inject({ method: 'POST', url: `${P}/stock/take-out`, headers: clerk, payload: { terminalId: 'T2', serial: 'SN0001' } });
    assert.deepEqual([again.statusCode, again.json().code], [409, 'JUKI_ERR_CS_STOCK_STATE']);
    const app1 = await app.inject({ method: 'POST', url: `${P}/applications`, headers: clerk, payload: { kind: 'new', residentCode: '10000000001', terminalId: 'T1' } });
    assert.equal(app1.statusCode, 201);
    const issued = await app.inject({ method: 'POST', url: `${P}/issuances`, headers: clerk, payload: { applicationId: app1.json().applicationId, serial: 'SN0001', terminalId: 'T1' } });
    assert.deepEqual([issued.statusCode, issued.json().status], [201, 'issued-awaiting-pin']);
    const n = issued.json().cardNumber;
    const active = await app.inject({ method: 'POST', url: `${P}/cards/${n}/pin-set`, headers: clerk });
    assert.equal(active.json().status, 'active');
    const refused = await app.inject({ method: 'POST', url: `${P}/applications`, headers: clerk, payload: { kind: 'new', residentCode: '10000000001', terminalId: 'T1' } });
    assert.deepEqual([refused.statusCode, refused.json().code, refused.json().details.cardNumber], [422, 'JUKI_ERR_CS_PRIOR_CARD_VALID', n]);
    const lost = await app.inject({ method: 'POST', url: `${P}/cards/${n}/status`, headers: clerk, payload: { cause: 'lost' } });
    assert.deepEqual([lost.statusCode, lost.json().status, lost.json().suspendedFrom], [200, 'suspended', 'active']);
    const abolish = await app.inject({ method: 'POST', url: `${P}/cards/${n}/status`, headers: clerk, payload: { cause: 'death' } });
    assert.deepEqual([abolish.statusCode, abolish.json().code], [403, 'JUKI_ERR_CS_FORBIDDEN']);
    const wrong = await app.inject({ method: 'POST', url: `${P}/cards/${n}/status`, headers: clerk, payload: { cause: 'lost' } });
    assert.deepEqual([wrong.statusCode, wrong.json().code], [409, 'JUKI_ERR_CS_CARD_TRANSITION']);
    const read = await app.inject({ method: 'GET', url: `${P}/cards/${n}`, headers: clerk });
    assert.deepEqual(read.json().history.map((h: { to: string }) => h.to), ['issued-awaiting-pin', 'active', 'suspended']);
    const report = await app.inject({ method: 'POST', url: `${P}/stock/reconcile`, headers: keeper, payload: { counted: ['SN0002'] } });
    assert.deepEqual([report.statusCode, report.json().alarms, report.json().counts.used], [200, [], 1]);
  });
});
