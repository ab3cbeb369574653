/**
 * R5.1 from the counter's side: a whole issuance with a JPKI area, through the terminal's relay,
 * with every APDU recorded and told apart by who sent it (the CS, or the jpki role over the
 * CS's relay), and every key the CS fetches from its key store recorded. The CS holds no JPKI
 * key, obtains none, sends none, and its keys (issuer, transport, basic) open nothing in the area.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Card, CARD_MODULES, cardIdOf, cardSerial, JPKI_AID, manufactureBlankCard, MemoryCardStore } from '../../src/card/index.ts';
import { diversifyKeySet, KEY_DOMAINS, MemoryKeyStore, type Scp03StaticKeys } from '../../src/crypto/index.ts';
import { inProcessJpki, installJpkiArea, municipalityCardKeys, personaliseCard, rekeyBlankCard, type JpkiRelay } from '../../src/cs/index.ts';
import {
  JPKI_CARD_KVN, JPKI_INITIAL_MASTER_KEY_NAMES, JPKI_MASTER_KEY_NAMES, jpkiInitialKeys, jpkiMasterKeys,
} from '../../src/jpki/index.ts';
import { encodeApdu, InProcessTransport, SecureSession, send, statusWord } from '../../src/reader/index.ts';
import { JukiError } from '../../src/util/index.ts';
import { openTestDb } from '../helpers/db.ts';
import { openE2e, residents, TERMINAL, READER } from './e2e-fixture.ts';
import { counter } from './card-flows-fixture.ts';

const HOLDER = '10000000001';
const OP = { admin1: '13579', keeper1: '24680', clerk1: '97531' } as const;
const JPKI_NAMES = [...Object.values(JPKI_MASTER_KEY_NAMES), ...Object.values(JPKI_INITIAL_MASTER_KEY_NAMES)];
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

test('[R5.1 counter] a whole issuance with a JPKI area: the CS sends no JPKI key and fetches none, its key store holds no master:jpki* key, and its keys cannot open the JPKI domain', async () => {
  const database = await openTestDb();
  const jpkiDb = await openTestDb();
  // Who is sending: the jpki role while its personalise() runs over the relay, the CS otherwise.
  let jpkiRunning = false;
  const wrapJpki = (r: JpkiRelay): JpkiRelay => ({
    ...r,
    async personalise(transport, holder) {
      jpkiRunning = true;
      try {
        return await r.personalise(transport, holder);
      } finally {
        jpkiRunning = false;
      }
    },
  });
  const e = await openE2e(database, jpkiDb, { wrapJpki });
  try {
    await residents(e, [HOLDER]);
    // staff: administrator, stock keeper, clerk, signed in with operator cards
    const admin = await e.operatorCard('admin1', OP.admin1);
    await e.counter.staff.enrollFirstAdministrator({ staffId: 'admin1', name: 'Admin', cardSerial: admin.serial, publicKey: admin.publicKey });
    const adminToken = await e.signIn('admin1', admin.serial, OP.admin1, false);
    assert.equal((await e.call('POST', '/terminals', adminToken, { terminalId: TERMINAL, name: 'counter 1', reader: READER, pinPad: 'pad-1' })).status, 201);
    const tokens: Record<string, string> = {};
    for (const [id, role] of [['keeper1', 'stock-keeper'], ['clerk1', 'clerk']] as const) {
      const card = await e.operatorCard(id, OP[id]);
      assert.equal((await e.call('POST', '/staff', adminToken, { staffId: id, name: id, role, cardSerial: card.serial, publicKey: card.publicKey })).status, 201);
      tokens[id] = await e.signIn(id, card.serial, OP[id]);
    }
    const [serial] = e.deliver('LOT-R51', 1) as [string];
    assert.equal((await e.call('POST', '/stock/lots', tokens.keeper1, { lot: 'LOT-R51', transportKeyRef: 'LOT-R51', serials: [serial] })).status, 200);
    assert.equal((await e.call('POST', '/stock/take-out', tokens.clerk1, { terminalId: TERMINAL, serial })).status, 200);
    const app = await e.call('POST', '/applications', tokens.clerk1, { kind: 'new', residentCode: HOLDER, terminalId: TERMINAL });
    assert.equal(app.status, 201, JSON.stringify(app.body));

    // From here on: every APDU relayed, by sender, and every key the CS takes from its key store.
    const cs: Uint8Array[] = [];
    const jpki: Uint8Array[] = [];
    e.agent.hook = async (apdu) => {
      (jpkiRunning ? jpki : cs).push(apdu.slice());
      return undefined;
    };
    const fetched: string[] = [];
    const secretKey = e.csKeys.secretKey.bind(e.csKeys);
    e.csKeys.secretKey = (name: string, create?: boolean) => {
      fetched.push(name);
      return secretKey(name, create);
    };
    const iss = await e.call('POST', '/issuances', tokens.clerk1, { applicationId: app.body.applicationId, serial, terminalId: TERMINAL, jpki: true, face: 'form1' });
    assert.equal(iss.status, 201, JSON.stringify(iss.body));
    e.agent.hook = undefined;
    e.csKeys.secretKey = secretKey;

    // The CS: no key of the area in its store, none fetched, no interface that gives one.
    for (const name of JPKI_NAMES) {
      assert.equal(e.csKeys.hasKey(name), false, `the CS's key store holds ${name}`);
      assert.equal(e.jpkiKeys.hasKey(name), true, `the jpki node holds ${name}`);
    }
    assert.ok(fetched.length > 0, 'the CS used its own keys');
    assert.deepEqual(fetched.filter((n) => n.includes('jpki')), []);
    assert.deepEqual(Object.keys(inProcessJpki({ authority: e.authority, hostKeys: e.jpkiKeys })).sort(), ['personalise', 'revokeForCard'], 'JpkiRelay gives the counter no key');

    // The CS's commands: none to the JPKI domain (it never selects the JPKI AP, so never opens, re-keys or writes it) ...
    assert.ok(cs.length > 10 && jpki.length > 5, `${cs.length} CS and ${jpki.length} jpki commands recorded`);
    const selectJpki = hexOf(Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, JPKI_AID.length, ...JPKI_AID));
    assert.equal(cs.some((a) => hexOf(a).startsWith(selectJpki)), false, 'the CS selected the JPKI AP');
    assert.equal(cs.some((a) => a[1] === 0xd8 && a[2] === 0x4f), false);
    // ... and its install step carries no key: the STORE DATA that personalises the JPKI AP (the ISD's last) holds only its C-MAC.
    const stores = cs.filter((a) => a[0] === 0x84 && a[1] === 0xe2);
    assert.deepEqual([...stores.at(-1)!.subarray(0, 5)], [0x84, 0xe2, 0x80, 0x00, 0x08], 'STORE DATA for the JPKI AP: no data field, no DGI 8F01');
    // No key of the area, in clear, anywhere on the wire.
    const serialBytes = new Uint8Array(Buffer.from(serial, 'hex'));
    const masters = jpkiMasterKeys(e.jpkiKeys);
    const final = diversifyKeySet(masters, serialBytes, KEY_DOMAINS.jpki, JPKI_CARD_KVN);
    const initial = jpkiInitialKeys(e.jpkiKeys, serialBytes);
    const wire = Buffer.concat([...cs, ...jpki]);
    for (const k of [final.enc, final.mac, final.dek, initial.enc, initial.mac, initial.dek, masters.enc, masters.mac, masters.dek]) assert.equal(wire.includes(Buffer.from(k)), false);

    // The jpki role's traffic, as the relay sees it: SELECT and INITIALIZE UPDATE in clear, everything else secured,
    // including the PUT KEY that replaced the maker's initial set.
    for (const a of jpki) assert.ok(a[0] === 0x84 || a[0] === 0x04 || (a[0] === 0x00 && a[1] === 0xa4) || (a[0] === 0x80 && a[1] === 0x50) || (a[0] === 0x00 && a[1] === 0xc0), hexOf(a.subarray(0, 4)));
    assert.ok(jpki.some((a) => a[0] === 0x84 && a[1] === 0xd8 && a[2] === 0x4f && a[3] === 0x81), 'PUT KEY 4F → 50 through the relay');

    // With the CS's keys alone (issuer, municipality transport, maker transport) nothing opens the JPKI domain; the jpki role's keys do.
    const card = e.cards.get(serial)!;
    const t = new InProcessTransport(card, { powerOffOnClose: false });
    const keys = municipalityCardKeys(e.csKeys);
    const tryOpen = async (k: Scp03StaticKeys, kvn: number): Promise<boolean> => {
      assert.equal(statusWord(await send(t, encodeApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: JPKI_AID }))), 0x9000);
      try {
        (await SecureSession.open(t, k, kvn, JPKI_AID)).close();
        return true;
      } catch (err) {
        assert.ok(err instanceof JukiError && err.code === 'JUKI_ERR_SCP_AUTHENTICATION', String(err));
        return false;
      }
    };
    const csSets = [keys.issuer.keysFor(serialBytes), keys.transport.keysFor(serialBytes)];
    for (const k of csSets) {
      assert.equal(await tryOpen(k, k.kvn), false, `KVN ${k.kvn}`);
      assert.equal(await tryOpen({ ...k, kvn: JPKI_CARD_KVN }, JPKI_CARD_KVN), false, `KVN ${k.kvn} as 50`);
      assert.equal(await tryOpen({ ...k, kvn: JPKI_CARD_KVN }, 0), false, `KVN ${k.kvn}, the card's own set`);
    }
    assert.equal(await tryOpen(initial, initial.kvn), false, 'the maker\'s initial set is gone');
    assert.equal(await tryOpen(final, JPKI_CARD_KVN), true, 'the jpki role\'s set opens it');
    await t.close();
  } finally {
    await e.close();
    await jpkiDb.close();
    await database.close();
  }
});

/** A blank card from the maker of the card-flows fixture's lot, with or without the JPKI initial set; re-keyed and personalised by the CS. */
async function personalisedCard(c: ReturnType<typeof counter>, jpkiKeys: MemoryKeyStore | undefined, seq: number) {
  const serial = cardSerial(0x4a4b, 5151, seq);
  const store = new MemoryCardStore(cardIdOf(serial));
  manufactureBlankCard(store, {
    serial, transportKeys: diversifyKeySet(c.makerMaster, serial, KEY_DOMAINS.transport, 0xff), ...(jpkiKeys ? { jpkiInitial: { keys: jpkiInitialKeys(jpkiKeys, serial) } } : {}),
  });
  const card = new Card({ store, types: CARD_MODULES });
  card.powerOn();
  const t = new InProcessTransport(card, { powerOffOnClose: false });
  await rekeyBlankCard(t, { makerTransport: c.maker, municipalityTransport: c.keys.transport });
  await personaliseCard(t, c.plan());
  return { card, store, serial, t };
}

test('[R5.1 counter] installJpkiArea on a card made without the JPKI initial set: JUKI_ERR_CARD_STATE naming it, and the card keeps no trace; with the set it installs, and a second run changes nothing', async () => {
  const c = counter();
  const bare = await personalisedCard(c, undefined, 1);
  const apps = () => JSON.stringify(bare.store.load()!.apps.map((a) => [Buffer.from(a.aid).toString('hex'), a.lifecycle]));
  const before = apps();
  await assert.rejects(installJpkiArea(bare.t, { issuerKeys: c.keys.issuer }), (e: unknown) =>
    e instanceof JukiError && e.code === 'JUKI_ERR_CARD_STATE' && /made without the JPKI initial key set/.test(e.message) && (e.details as { sw?: string }).sw === '6985');
  assert.equal(apps(), before, 'no JPKI area, nothing else changed');

  const jpkiKeys = new MemoryKeyStore();
  const ok = await personalisedCard(c, jpkiKeys, 2);
  const r = await installJpkiArea(ok.t, { issuerKeys: c.keys.issuer });
  assert.deepEqual(r, { serial: Buffer.from(ok.serial).toString('hex').toUpperCase(), kvn: 0x4f, alreadyInstalled: false });
  const area = ok.store.load()!.apps.find((a) => Buffer.from(a.aid).equals(Buffer.from(JPKI_AID)))!;
  assert.equal(area.lifecycle, 'personalised');
  assert.deepEqual(area.sd.keys.map((k) => k.kvn), [0x4f], 'bound to the maker\'s initial set');
  assert.equal(ok.store.load()!.initialKeys?.length ?? 0, 0, 'the initial set moved into the area');
  assert.equal((await installJpkiArea(ok.t, { issuerKeys: c.keys.issuer })).alreadyInstalled, true);
});
