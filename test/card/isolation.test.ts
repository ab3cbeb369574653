/**
 * Isolation (R2.2.6, R5.1, R6.2): every application, fully authenticated (PIN + its own
 * channel), sends every command it can against every other application's files, PINs and keys;
 * nothing of the other application comes back, changes, or opens.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as verifySig } from 'node:crypto';
import { BASIC_AID, ISD_AID, JPKI_AID, OPERATOR_AID, JPKI_SIGN_PIN_REF, concat, dgi } from '../../src/card/index.ts';
import { ascii, hex, KEYS, ORD_A_AID, ORD_B_AID, PERSON, sw, type Host } from './helpers.ts';
import { HOLDER, JPKI_PINS, jpkiCard, jpkiFinalKeys } from './jpki-card.ts';
import { openFixture, type Fixture } from '../jpki/fixtures.ts';
import type { Scp03StaticKeys } from '../../src/crypto/index.ts';

let fixture: Fixture;
before(async () => {
  fixture = await openFixture();
});
after(async () => {
  await fixture.close();
});

interface Area {
  name: string;
  aid: Uint8Array;
  keys: Scp03StaticKeys | null;
  pin: string;
  /** VERIFY P2 = 80 | pinRef (default 1). */
  pinRef?: number;
  /** The short EF id of a file that holds this area's secrets (default 2). */
  secretSfi?: number;
  /** bytes that belong to this area only */
  secrets: string[];
}

const AREAS: Area[] = [
  { name: 'issuer domain', aid: ISD_AID, keys: KEYS.issuer, pin: '', secrets: [] },
  { name: 'basic area', aid: BASIC_AID, keys: KEYS.basic, pin: '1111', secrets: [PERSON.residentCode, PERSON.face, PERSON.cardNumber] },
  { name: 'operator card', aid: OPERATOR_AID, keys: KEYS.operator, pin: '2222', secrets: [] },
  { name: 'ordinance A', aid: ORD_A_AID, keys: KEYS.ordA, pin: '3333', secrets: ['LIB-A-0001', 'A-SECRET-SERVICE-DATA'] },
  { name: 'ordinance B', aid: ORD_B_AID, keys: KEYS.ordB, pin: '4444', secrets: ['SEAL-B-0002', 'B-SECRET-SERVICE-DATA'] },
  // The real JPKI area: its keys are the card's JPKI domain keys (set in makeCard); its secret is the
  // holder's name in the sign certificate (EF 0001, SFI 1), readable only after the sign password.
  { name: 'JPKI area', aid: JPKI_AID, keys: null, pin: JPKI_PINS.sign, pinRef: JPKI_SIGN_PIN_REF, secretSfi: 1, secrets: [Buffer.from(HOLDER.name, 'utf8').toString('latin1')] },
];
const JPKI = AREAS.find((a) => a.name === 'JPKI area')!;

async function makeCard() {
  const pins: Record<string, string> = {};
  for (const a of AREAS.slice(1)) if (a !== JPKI) pins[Buffer.from(a.aid).toString('hex').toUpperCase()] = a.pin;
  // blank → ISD personalisation (basic, operator, two ordinance areas) → the ISD installs the JPKI area → the jpki role personalises it → PINs
  const made = await jpkiCard({ fixture, operator: true, ordinance: true, pinMap: pins });
  JPKI.keys = jpkiFinalKeys(made.jpkiKeys, made.serial);
  // the sign certificate's serial (within the first 256 bytes any read returns) is this card's JPKI secret too
  JPKI.secrets = [JPKI.secrets[0]!, Buffer.from(made.result.sign!.serial, 'hex').toString('latin1')];
  return made;
}

/** Select `a`, verify its PIN and open its own channel (the ISD: the issuer channel). */
function authenticate(host: Host, a: Area): void {
  assert.equal(sw(host.select(a.aid).sw), '9000', a.name);
  if (a.pin) assert.equal(sw(host.verify(a.pin, a.pinRef ?? 1).sw), '9000', `${a.name} PIN`);
  if (a.keys) assert.equal(host.open(a.keys, 0x33), 0x9000, `${a.name} channel`);
}

/** Every command X can send aimed at Y: its files by FID and SFI, its PIN, its keys, GP content management. */
function attacks(y: Area): { name: string; cla: number; ins: number; p1: number; p2: number; data?: Uint8Array; ne?: number }[] {
  const out: ReturnType<typeof attacks> = [];
  for (let fid = 0; fid <= 0x20; fid++) {
    out.push({ name: `SELECT EF ${fid}`, cla: 0, ins: 0xa4, p1: 0x02, p2: 0x04, data: Uint8Array.of(0, fid), ne: 256 });
    out.push({ name: `READ BINARY after SELECT ${fid}`, cla: 0, ins: 0xb0, p1: 0, p2: 0, ne: 256 });
    out.push({ name: `UPDATE BINARY after SELECT ${fid}`, cla: 0, ins: 0xd6, p1: 0, p2: 0, data: ascii('OVERWRITE') });
  }
  for (let sfi = 1; sfi <= 30; sfi++) {
    out.push({ name: `READ BINARY SFI ${sfi}`, cla: 0, ins: 0xb0, p1: 0x80 | sfi, p2: 0, ne: 256 });
    out.push({ name: `UPDATE BINARY SFI ${sfi}`, cla: 0, ins: 0xd6, p1: 0x80 | sfi, p2: 0, data: ascii('OVERWRITE') });
  }
  if (y.pin) {
    for (const ref of [0x80, 0x81, 0x98]) {
      out.push({ name: `VERIFY ${y.name}'s PIN at ${ref}`, cla: 0, ins: 0x20, p1: 0, p2: ref, data: ascii(y.pin) });
      out.push({ name: `CHANGE REFERENCE DATA with ${y.name}'s PIN`, cla: 0, ins: 0x24, p1: 0, p2: ref, data: ascii(y.pin + '9999') });
    }
  }
  out.push({ name: 'INTERNAL AUTHENTICATE', cla: 0, ins: 0x88, p1: 0, p2: 0x84, data: new Uint8Array(16).fill(1), ne: 256 });
  for (const p2 of [0x80, 0x97, 0x9a]) out.push({ name: `JPKI sign 80 2A P2=${p2.toString(16)}`, cla: 0x80, ins: 0x2a, p1: 0, p2, data: new Uint8Array(51), ne: 256 });
  out.push({ name: 'GET DATA', cla: 0x80, ins: 0xca, p1: 0x00, p2: 0x45, ne: 256 });
  out.push({ name: 'GET STATUS', cla: 0x80, ins: 0xf2, p1: 0x40, p2: 0x02, data: hex('4F00'), ne: 256 });
  out.push({ name: `INSTALL [for personalization] of ${y.name}`, cla: 0x80, ins: 0xe6, p1: 0x20, p2: 0, data: concat(hex('0000'), Uint8Array.of(y.aid.length), y.aid, hex('000000')), ne: 256 });
  out.push({ name: 'STORE DATA', cla: 0x80, ins: 0xe2, p1: 0x80, p2: 0, data: dgi(0x0002, ascii('INJECTED')) });
  out.push({ name: 'PUT KEY', cla: 0x80, ins: 0xd8, p1: 0, p2: 0x81, data: new Uint8Array(1 + 3 * 22) });
  return out;
}

function foreignChannelOpens(host: Host, x: Area, y: Area): boolean {
  if (!y.keys) return false;
  host.select(x.aid);
  return host.open(y.keys, 0x33) === 0x9000;
}

/** Read what Y holds, as its owner would. */
function snapshot(host: Host, y: Area): string {
  authenticate(host, y);
  if (y.aid === ISD_AID) return '';
  let s = '';
  for (let sfi = 1; sfi <= 6; sfi++) {
    const r = host.secure(0, 0xb0, 0x80 | sfi, 0, undefined, 256);
    s += `${sfi}:${sw(r.sw)}:${Buffer.from(r.data).toString('hex')};`;
  }
  return s;
}

function isolationPair(host: Host, x: Area, y: Area): number {
  let n = 0;
  const before = snapshot(host, y);
  authenticate(host, x);
  for (const a of attacks(y)) {
    for (const wrapped of [true, false]) {
      if (wrapped && !host.channel) authenticate(host, x);
      const r = wrapped && host.channel ? host.secure(a.cla, a.ins, a.p1, a.p2, a.data, a.ne) : host.send(a.cla, a.ins, a.p1, a.p2, a.data, a.ne);
      const text = Buffer.from(r.data).toString('latin1');
      for (const secret of y.secrets) assert.equal(text.includes(secret), false, `${x.name} → ${y.name}: ${a.name} returned ${secret}`);
      if (a.ins === 0x20 || a.ins === 0x24) {
        assert.notEqual(sw(r.sw), '9000', `${x.name} accepted ${y.name}'s PIN (${a.name})`);
        authenticate(host, x); // X's own PIN, verified again, restores X's counter
      }
      n++;
    }
  }
  // Y's keys open nothing while X is selected. By design the issuing municipality's keys open a channel in the
  // basic area and the operator card (PIN unblock, R3.2.2i); the access matrix proves that channel reads nothing there.
  const issuerServices = y.aid === ISD_AID && (x.aid === BASIC_AID || x.aid === OPERATOR_AID);
  if (!issuerServices) assert.equal(foreignChannelOpens(host, x, y), false, `${x.name} accepted ${y.name}'s keys`);
  // X's state is gone once Y is selected, and Y's once X is selected again
  authenticate(host, x);
  const xChannel = host.channel;
  host.select(y.aid);
  host.channel = xChannel;
  if (xChannel) assert.equal(sw(host.secure(0, 0xb0, 0x82, 0, undefined, 256).sw), '6982', `${x.name}'s channel reaches ${y.name}`);
  if (y.aid !== ISD_AID) {
    host.select(y.aid);
    const plain = host.send(0, 0xb0, 0x80 | (y.secretSfi ?? 2), 0, undefined, 256);
    if (y.secrets.length) assert.notEqual(sw(plain.sw), '9000', `${x.name}'s PIN grants ${y.name}`);
  }
  assert.equal(snapshot(host, y), before, `${y.name} changed while ${x.name} attacked it`);
  return n;
}

const groups: { id: string; pairs: [string, string][] }[] = [
  { id: '[R2.2.6] isolation matrix: every application × every other application\'s files, PINs and keys × every command', pairs: AREAS.flatMap((x) => AREAS.filter((y) => y !== x).map((y): [string, string] => [x.name, y.name])) },
  { id: '[R5.1] [R5.1 card] the basic area (Juki-net) reaches nothing in the JPKI area and the JPKI area nothing in the basic area', pairs: [['basic area', 'JPKI area'], ['JPKI area', 'basic area']] },
  { id: '[R6.2.1 card] Juki-net and JPKI cannot touch ordinance areas, and ordinance areas cannot touch the basic or JPKI areas', pairs: [['basic area', 'ordinance A'], ['JPKI area', 'ordinance A'], ['ordinance A', 'basic area'], ['ordinance A', 'JPKI area'], ['ordinance B', 'basic area']] },
  { id: '[R6.2.2 card] each ordinance area reaches only its own area (two instances of one module, installed through the ISD)', pairs: [['ordinance A', 'ordinance B'], ['ordinance B', 'ordinance A']] },
];

for (const g of groups) {
  test(g.id, async () => {
    const { host } = await makeCard();
    let n = 0;
    for (const [xn, yn] of g.pairs) n += isolationPair(host, AREAS.find((a) => a.name === xn)!, AREAS.find((a) => a.name === yn)!);
    assert.ok(n > 0);
  });
}

test('[R2.2.6] each security domain\'s keys differ, and the operator key signs only in its own area', async () => {
  const { host } = await makeCard();
  const sets = [KEYS.issuer, KEYS.basic, KEYS.operator, KEYS.ordA, KEYS.ordB, JPKI.keys!].map((k) => Buffer.from(k.enc).toString('hex'));
  assert.equal(new Set(sets).size, sets.length);
  authenticate(host, AREAS[2]!);
  const pub = host.send(0, 0xb0, 0x83, 0, undefined, 256).data;
  const challenge = new Uint8Array(32).fill(0x42);
  const sig = host.secure(0, 0x88, 0, 0x84, challenge, 256);
  assert.equal(sw(sig.sw), '9000');
  assert.ok(verifySig('sha256', challenge, { key: createPublicKey({ key: Buffer.from(pub), format: 'der', type: 'spki' }), dsaEncoding: 'der' }, sig.data));
  for (const x of AREAS.filter((a) => a.name !== 'operator card')) {
    authenticate(host, x);
    assert.notEqual(sw(host.secure(0, 0x88, 0, 0x84, challenge, 256).sw), '9000', `${x.name} signs with the operator key`);
  }
});
