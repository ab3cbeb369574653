/**
 * [R2.2.4] Every file of every application × every security state × every command. The
 * expectations are written out here by hand from docs/card-protocol.md, not derived from the
 * card's own tables, so a wrong condition in the code fails the matrix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASIC_AID, OPERATOR_AID } from '../../src/card/index.ts';
import { activeCard, ascii, KEYS, ORD_A_AID, ORD_B_AID, sw, type Host } from './helpers.ts';
import type { Scp03StaticKeys, SecurityLevel } from '../../src/crypto/index.ts';

/** Security states: what was done after SELECT, and whether the command goes wrapped. */
const STATES = ['none', 'pin', 'app01', 'app33', 'pin+app01', 'pin+app33', 'issuer33', 'pin+issuer33', 'foreign'] as const;
type State = (typeof STATES)[number];

interface AppUnderTest {
  name: string;
  aid: Uint8Array;
  keys: Scp03StaticKeys;
  /** another application to authenticate in before selecting this one */
  other: { aid: Uint8Array; keys: Scp03StaticKeys };
  /** fid → sfi, and the states in which READ / UPDATE must succeed */
  files: { fid: number; sfi: number; read: State[]; update: State[] }[];
  /** for the key file: states in which INTERNAL AUTHENTICATE must succeed */
  sign?: State[];
}

const ALL: State[] = [...STATES];
const PIN_APP = ['pin+app01', 'pin+app33'] as State[];

const APPS: AppUnderTest[] = [
  {
    name: 'basic area',
    aid: BASIC_AID,
    keys: KEYS.basic,
    other: { aid: ORD_A_AID, keys: KEYS.ordA },
    files: [
      { fid: 0x0002, sfi: 2, read: ['pin+app33'], update: [] }, // resident code: PIN + SM(enc)
      { fid: 0x0003, sfi: 3, read: PIN_APP, update: [] },
      { fid: 0x0004, sfi: 4, read: PIN_APP, update: [] },
      { fid: 0x0005, sfi: 5, read: PIN_APP, update: [] },
      { fid: 0x0006, sfi: 6, read: ['pin+app33'], update: ['issuer33', 'pin+issuer33'] }, // face record
    ],
  },
  {
    name: 'operator card',
    aid: OPERATOR_AID,
    keys: KEYS.operator,
    other: { aid: BASIC_AID, keys: KEYS.basic },
    files: [
      { fid: 0x0002, sfi: 2, read: ALL, update: [] },
      { fid: 0x0003, sfi: 3, read: ALL, update: [] },
    ],
    sign: ['pin', 'pin+app01', 'pin+app33', 'pin+issuer33'],
  },
  {
    name: 'ordinance area',
    aid: ORD_A_AID,
    keys: KEYS.ordA,
    other: { aid: ORD_B_AID, keys: KEYS.ordB },
    files: [
      { fid: 0x0002, sfi: 2, read: PIN_APP, update: [] },
      { fid: 0x0003, sfi: 3, read: ['app01', 'app33', 'pin+app01', 'pin+app33'], update: ['pin+app33'] },
    ],
  },
];

/** Put the card in `state` for `app`; returns whether commands go wrapped. */
function enter(host: Host, app: AppUnderTest, state: State): boolean {
  if (state === 'foreign') {
    host.select(app.other.aid);
    host.verify('1234');
    assert.equal(host.open(app.other.keys, 0x33), 0x9000);
    const foreign = host.channel;
    assert.equal(sw(host.select(app.aid).sw), '9000');
    host.channel = foreign; // the host keeps using the other area's channel: the card must not accept it here
    return true;
  }
  assert.equal(sw(host.select(app.aid).sw), '9000');
  if (state.startsWith('pin')) assert.equal(sw(host.verify('1234').sw), '9000');
  const m = /(app|issuer)(01|33)$/.exec(state);
  if (!m) return false;
  const keys = m[1] === 'app' ? app.keys : KEYS.issuer;
  const opened = host.open(keys, Number.parseInt(m[2]!, 16) as SecurityLevel);
  if (opened !== 0x9000) {
    // an application that refuses issuer channels: the state is then just the PIN part
    assert.equal(m[1], 'issuer', `${app.name}: opening its own channel failed`);
    return false;
  }
  return true;
}

function run(host: Host, wrapped: boolean, cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, ne?: number): number {
  if (wrapped && host.channel) return host.secure(cla, ins, p1, p2, data, ne).sw;
  return host.send(cla, ins, p1, p2, data, ne).sw;
}

for (const app of APPS) {
  test(`[R2.2.4] access matrix: ${app.name}: every file × every security state × SELECT / READ BINARY (FID, SFI) / UPDATE BINARY (FID, SFI)${app.sign ? ' / INTERNAL AUTHENTICATE' : ''}, wrapped and plain`, () => {
    const { host } = activeCard({ operator: true, ordinance: true });
    let checked = 0;
    for (const f of app.files) {
      for (const state of STATES) {
        for (const mode of ['wrapped', 'plain'] as const) {
          const ops: [string, (w: boolean) => number, boolean][] = [
            ['SELECT EF', (w) => run(host, w, 0x00, 0xa4, 0x02, 0x0c, Uint8Array.of(f.fid >> 8, f.fid & 0xff)), true],
            ['READ BINARY (current EF)', (w) => run(host, w, 0x00, 0xb0, 0x00, 0x00, undefined, 256), false],
            ['READ BINARY (SFI)', (w) => run(host, w, 0x00, 0xb0, 0x80 | f.sfi, 0x00, undefined, 256), false],
            ['UPDATE BINARY (current EF)', (w) => run(host, w, 0x00, 0xd6, 0x00, 0x00, ascii('X')), false],
            ['UPDATE BINARY (SFI)', (w) => run(host, w, 0x00, 0xd6, 0x80 | f.sfi, 0x00, ascii('Y')), false],
          ];
          const wrapped = enter(host, app, state) && mode === 'wrapped';
          // a plain command on an open channel counts as unprotected: only the PIN part of the state applies
          const effective: State = wrapped || !/app|issuer/.test(state) ? state : state.startsWith('pin') ? 'pin' : 'none';
          for (const [name, op, always] of ops) {
            // the other area's channel is not open here: every wrapped command is refused, SELECT included
            const allowed = state === 'foreign' && wrapped ? false : always || (name.startsWith('READ') ? f.read : f.update).includes(effective);
            const got = sw(op(wrapped));
            assert.equal(got, allowed ? '9000' : '6982', `${app.name} EF ${f.fid.toString(16).padStart(4, '0')} ${name} in state ${state} (${mode}): expected ${allowed ? 'granted' : 'refused'}`);
            checked++;
          }
        }
      }
    }
    if (app.sign) {
      for (const state of STATES) {
        const wrapped = enter(host, app, state);
        const allowed = app.sign.includes(state);
        const got = sw(run(host, wrapped, 0x00, 0x88, 0x00, 0x84, new Uint8Array(16).fill(7), 256));
        assert.equal(got, allowed ? '9000' : '6982', `${app.name} INTERNAL AUTHENTICATE in state ${state}`);
        checked++;
      }
    }
    assert.ok(checked >= 90);
  });
}
