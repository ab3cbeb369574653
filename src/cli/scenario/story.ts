/**
 * `juki scenario`: the whole story on a fresh in-process network with the real components
 * (docs/network.md "The whole story"). Nodes: the national center, prefectures 13 and 27,
 * municipalities 131016 (Chiyoda) and 271004 (Osaka), agencies `passport` and `pension`; each
 * on its own SQLite file and key store under the data dir, all on one in-process Juki-net whose
 * relays are pumped by the story (deterministic). The counters are `openCounterWithCards` (the
 * real card steps through each counter terminal's agent) with the register wired by the
 * municipality role's `municipalityBooks`; the agency desk is the node's terminal with its
 * virtual reader and PIN pad (`AgencyCardDesk`).
 *
 * Each step checks what it must have caused; a step that misbehaves stops the story with its
 * name and why (the command exits non-zero).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Actor } from '../../audit/index.ts';
import { AuditLog } from '../../audit/index.ts';
import { Card, CARD_MODULES, cardIdOf, cardSerial, manufactureBlankCard, MemoryCardStore } from '../../card/index.ts';
import { SoftwareKeyStore } from '../../crypto/index.ts';
import { KeyStoreBasicKeyService, lotMasterKeyName, openCounterWithCards, type Counter } from '../../cs/index.ts';
import { openDatabase, type Database } from '../../db/index.ts';
import { nodeId, parseTopology, type NodeSpec, type TopologyFile } from '../../net/index.ts';
import { VirtualReader } from '../../reader/index.ts';
import type { ResidentInput } from '../../register/index.ts';
import { ScriptedPinPad, Terminal } from '../../terminal/index.ts';
import { JukiError } from '../../util/index.ts';
import { ensurePki, inProcessPlan, prepareNodeNet, type StartedNodeNet } from '../network.ts';
import { municipalityBooks } from '../roles.ts';

export interface StepResult {
  readonly name: string;
  readonly ids: readonly string[];
  readonly ok: boolean;
  readonly detail: string;
}

export interface ScenarioOptions {
  readonly dataDir: string;
  /** Test-only: make the story misbehave, to prove it notices. */
  readonly fault?: 'agency-skips-notice-list';
  /** Called as each step ends. */
  readonly onStep?: (s: StepResult) => void;
}

export const SCENARIO_NODES: readonly NodeSpec[] = [
  { role: 'national' },
  { role: 'prefecture', code: '13' },
  { role: 'prefecture', code: '27' },
  { role: 'municipality', code: '131016' },
  { role: 'municipality', code: '271004' },
  { role: 'agency', code: 'passport' },
  { role: 'agency', code: 'pension' },
];

const HOLDER: ResidentInput = {
  residentCode: '10000000017',
  name: { family: '山田', given: '花子' },
  kana: { family: 'ヤマダ', given: 'ハナコ' },
  birthDate: '1990-05-01',
  sex: 'female',
  address: '東京都千代田区千代田一丁目1番1号',
};
const OSAKA_ADDRESS = '大阪府大阪市北区梅田一丁目1番1号';
const PIN = '4729';
const AFFAIR = 'agency.passport-issuance';
const CLERK: Actor = { kind: 'staff', id: 'clerk1' };

class StepFailed extends Error {}

function expect(cond: unknown, why: string): asserts cond {
  if (!cond) throw new StepFailed(why);
}

interface Municipality {
  code: string;
  counter: Counter & { pins: NonNullable<Counter['pins']> };
  reader: VirtualReader;
  pad: ScriptedPinPad;
  terminal: Terminal;
}

/** Run the story; resolves with every step (the last one failed if the story stopped). */
export async function runScenario(o: ScenarioOptions): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  const dir = o.dataDir;
  mkdirSync(dir, { recursive: true });
  const file: TopologyFile = { version: 1, nodes: SCENARIO_NODES.map((s) => ({ role: s.role, ...(s.code ? { code: s.code } : {}) })) };
  const topology = parseTopology(file);
  const pki = await ensurePki(join(dir, 'pki'), topology);
  const plan = inProcessPlan(pki, topology);
  const dbs = new Map<string, Database>();
  const nets = new Map<string, StartedNodeNet>();
  const terminals: Terminal[] = [];
  const cards = new Map<string, Card>();
  const nationalKeys = new SoftwareKeyStore(join(dir, 'keystore-national'));
  let clock = Date.parse('2025-06-02T01:00:00.000Z');
  const now = () => clock;

  const pump = async (): Promise<void> => {
    for (let round = 0; round < 100; round++) {
      let sent = 0;
      for (const n of nets.values()) sent += await n.pump();
      if (sent === 0) return;
    }
    throw new StepFailed('Juki-net did not settle after 100 relay rounds');
  };
  const net = (id: string) => nets.get(id)!.net;
  const auditOf = async (id: string, type: string) => (await new AuditLog(dbs.get(id)!, id).list({ limit: 10_000 })).filter((e) => e.type === type);

  const step = async (name: string, ids: string[], fn: () => Promise<string>): Promise<void> => {
    let r: StepResult;
    try {
      r = { name, ids, ok: true, detail: await fn() };
    } catch (e) {
      const why = e instanceof StepFailed ? e.message : e instanceof JukiError ? `${e.code}: ${e.message}` : (e as Error)?.stack ?? String(e);
      r = { name, ids, ok: false, detail: why };
    }
    steps.push(r);
    o.onStep?.(r);
    if (!r.ok) throw new StepFailed(r.detail);
  };

  try {
    // The network: every node on its own database, relays pumped by the story.
    for (const spec of SCENARIO_NODES) {
      const id = nodeId(spec);
      const db = await openDatabase(join(dir, `${id}.sqlite`));
      dbs.set(id, db);
      nets.set(id, prepareNodeNet(plan, spec, db, {
        now, autoRelay: false,
        ...(spec.role === 'national' ? { keyStore: nationalKeys } : {}),
        ...(spec.role === 'agency' && o.fault === 'agency-skips-notice-list' ? { agencyFaults: { skipNoticeList: true } } : {}),
      }));
    }
    const municipalities = new Map<string, Municipality>();
    for (const code of ['131016', '271004']) {
      const id = `municipality-${code}`;
      const db = dbs.get(id)!;
      const reader = new VirtualReader('reader-1');
      const pad = new ScriptedPinPad();
      const terminal = new Terminal({ id: 'T1', readers: [reader], pinPad: pad });
      terminals.push(terminal);
      const csKeys = new SoftwareKeyStore(join(dir, `keystore-${id}`));
      const nn = net(id);
      const books = municipalityBooks(db, code, nn, () => new Date(clock));
      const counter = openCounterWithCards(db, code, {
        ...books, outbox: nn.outbox, now: () => new Date(clock),
        agents: new Map([['T1', terminal]]), keyStore: csKeys, lotKeys: csKeys,
        basicKeys: new KeyStoreBasicKeyService(nationalKeys), rekeyTerminal: 'T1',
        presentCard: async (_t, serial) => put(reader, serial),
        printDir: join(dir, `print-${code}`),
      });
      await counter.terminals.register({ kind: 'system' }, { terminalId: 'T1', name: 'counter 1', reader: 'reader-1', pinPad: 'pad-1' });
      municipalities.set(code, { code, counter, reader, pad, terminal });
      await nets.get(id)!.start({ returnedCard: (trx, body, from) => counter.moves.applyReturnedCard(trx, body, from) });
    }
    for (const [id, n] of nets) if (!id.startsWith('municipality-')) await n.start({});
    const chiyoda = municipalities.get('131016')!;
    const osaka = municipalities.get('271004')!;
    const put = (reader: VirtualReader, serial: string) => {
      const card = cards.get(serial);
      if (!card) throw new StepFailed(`no card ${serial}`);
      if (reader.device === card) return;
      reader.remove();
      for (const t of [chiyoda, osaka]) if (t.reader.device === card) t.reader.remove();
      for (const a of ['agency-passport', 'agency-pension']) { const r = net(a).agency?.desk?.reader; if (r?.device === card) r.remove(); }
      reader.insert(card);
    };
    const deliver = (code: string, lot: string, n: number): string[] => {
      const store = new SoftwareKeyStore(join(dir, `keystore-municipality-${code}`));
      const master = store.secretKey(lotMasterKeyName(lot), true);
      const serials: string[] = [];
      for (let i = 1; i <= n; i++) {
        const serial = cardSerial(0x4a4b, 2025, i);
        const s = new MemoryCardStore(cardIdOf(serial));
        manufactureBlankCard(s, { serial, transportMaster: { enc: master, mac: master, dek: master } });
        const hex = Buffer.from(serial).toString('hex').toUpperCase();
        cards.set(hex, new Card({ store: s, types: CARD_MODULES }));
        serials.push(hex);
      }
      master.fill(0);
      return serials;
    };
    /** Issue a card of `kind` at Chiyoda on the blank card `serial`, the holder setting the PIN on the pad. */
    const issue = async (serial: string, kind: 'new' | 'reissue', extra: { disposition?: string } = {}): Promise<string> => {
      const c = chiyoda.counter;
      await c.stock.takeOut(CLERK, { terminalId: 'T1', serial });
      const app = await c.applications.apply(CLERK, { kind, residentCode: HOLDER.residentCode, terminalId: 'T1', ...extra });
      expect(app.state === 'accepted', `the ${kind} application was ${app.state}`);
      const card = await c.issuance.issue(CLERK, { applicationId: app.applicationId, serial, terminalId: 'T1' });
      put(chiyoda.reader, serial);
      await chiyoda.terminal.release('reader-1');
      chiyoda.pad.type(PIN);
      chiyoda.pad.type(PIN);
      const set = await c.pins.setAtIssuance(CLERK, { cardNumber: card.cardNumber, terminalId: 'T1', setBy: 'holder' });
      expect(set.card.status === 'active', `card ${card.cardNumber} is ${set.card.status} after the PIN was set`);
      await chiyoda.terminal.release('reader-1');
      return card.cardNumber;
    };
    /** The holder presents the card at an agency desk and types the PIN. */
    const atAgency = async (agency: string, serial: string) => {
      const desk = net(agency).agency!.desk!;
      put(desk.reader, serial);
      await desk.terminal.release('desk-1');
      desk.pad.type(PIN);
      return desk.cards.verify(AFFAIR);
    };
    const identityQueries = async () => (await auditOf('national', 'net.identity.query')).length;
    const national = async (cardNumber: string) => dbs.get('national')!.db.selectFrom('net_card_status').select(['status', 'version', 'resident_code']).where('card_number', '=', cardNumber).executeTakeFirst();

    let first = '';
    let firstSerial = '';
    let second = '';
    let secondSerial = '';

    await step('setup: register and delivery', ['R3.1.1a'], async () => {
      await chiyoda.counter.ctx.register.register(HOLDER, { reason: 'entry', date: '2020-04-01' });
      const serials = deliver('131016', 'LOT-2025-06', 2);
      const received = await chiyoda.counter.stock.receiveLot({ kind: 'staff', id: 'keeper1' }, { lot: 'LOT-2025-06', transportKeyRef: 'LOT-2025-06', serials });
      expect(received.every((r) => r.state === 'in-safe'), `delivery not re-keyed into the safe: ${received.map((r) => r.state).join(', ')}`);
      [firstSerial, secondSerial] = serials as [string, string];
      await pump();
      return `resident ${HOLDER.residentCode} registered at 131016 (announced to the national center); ${serials.length} blank cards re-keyed from the maker's transport keys`;
    });

    await step('issuance', ['R3.1.2a', 'R3.1.2e', 'R3.1.2ka', 'R3.2.1u', 'R3.2.1e'], async () => {
      first = await issue(firstSerial, 'new');
      await pump();
      const n = await national(first);
      expect(n?.status === 'active', `the national center holds ${n?.status ?? 'nothing'} for ${first}`);
      return `card ${first} personalised through the counter terminal, PIN set on the pad, active; the national center knows it`;
    });

    await step('card flag for another municipality', ['R3.2.1ka'], async () => {
      const a = await net('municipality-271004').queries.query('national', { affair: 'juki.move-in', residentCode: HOLDER.residentCode });
      expect(a.records.length === 1, `the national center gave ${a.records.length} records`);
      expect(a.records[0]!.card === 'yes', `card flag ${a.records[0]!.card}, expected yes`);
      return 'Osaka asks the national center: identity record with card: yes';
    });

    await step('agency verification', ['R4.2.1', 'R4.2.2'], async () => {
      const r = await atAgency('agency-passport', firstSerial);
      expect(r.accepted, `refused at ${r.accepted ? '' : `${r.failedAt}: ${r.message}`}`);
      expect(r.steps.map((s) => s.step).join(',') === 'pin,read,notices,record', `steps ran as ${r.steps.map((s) => s.step).join(',')}`);
      expect(r.card.residentCode === HOLDER.residentCode && r.card.cardNumber === first, 'the card read is not the one issued');
      return `PIN on the desk's pad, the national center read card ${first} through the relay, no notice, identity record received`;
    });

    await step('lost report', ['R3.2.1a'], async () => {
      const c = await chiyoda.counter.status.change(CLERK, first, 'lost');
      expect(c.status === 'suspended', `the card is ${c.status}`);
      return `card ${first} suspended (lost)`;
    });

    await step('notices', ['R3.2.1u', 'R3.2.1e', 'R3.2.1o'], async () => {
      await pump();
      for (const a of ['agency-passport', 'agency-pension']) {
        const notice = await net(a).agency!.list.forCard(first);
        expect(notice?.status === 'suspended', `${a} holds ${notice?.status ?? 'no notice'} for ${first}`);
      }
      return 'municipality → prefecture 13 → national center → both agencies: suspended';
    });

    await step('refusal at the agency', ['R4.2.2'], async () => {
      const before = await identityQueries();
      for (const a of ['agency-passport', 'agency-pension']) {
        const r = await atAgency(a, firstSerial);
        expect(!r.accepted, `${a} accepted a suspended card`);
        if (a === 'agency-passport') {
          expect(r.failedAt === 'notices' && r.source === 'notice-list', `${a} did not refuse by its own notice list (stopped at ${r.failedAt}, source ${r.source ?? 'none'})`);
        }
      }
      expect((await identityQueries()) === before, 'an identity record was requested for a noticed card');
      return 'refused by the notice list before any identity-record request, at every agency';
    });

    await step('reissue', ['R3.1.2i', 'R3.2.1a', 'R3.2.1o'], async () => {
      second = await issue(secondSerial, 'reissue', { disposition: 'lost' });
      const old = await chiyoda.counter.status.get(first);
      expect(old.status === 'abolished', `the lost card is ${old.status}`);
      await pump();
      const notice = await net('agency-passport').agency!.list.forCard(first);
      expect(notice?.status === 'abolished', `the agency holds ${notice?.status} for the old card`);
      const ok = await atAgency('agency-passport', secondSerial);
      expect(ok.accepted, `the new card was refused: ${ok.accepted ? '' : ok.message}`);
      const no = await atAgency('agency-passport', firstSerial);
      expect(!no.accepted, 'the old card was accepted');
      return `card ${second} active and accepted at the agency; the lost card ${first} abolished and refused`;
    });

    await step('move to Osaka with card return', ['R3.2.1i', 'R3.2.1a', 'R3.2.1o', 'R4.2.2'], async () => {
      clock += 86_400_000;
      await chiyoda.counter.ctx.register.apply({ kind: 'move-out', residentCode: HOLDER.residentCode, date: '2025-06-03', to: { municipality: '271004', address: OSAKA_ADDRESS } });
      await osaka.counter.ctx.register.apply({ kind: 'move-in', resident: { ...HOLDER, address: OSAKA_ADDRESS }, date: '2025-06-03', from: { municipality: '131016', address: HOLDER.address } });
      const taken = await osaka.counter.moves.receiveReturnedCard(CLERK, { cardNumber: second, issuer: '131016', residentCode: HOLDER.residentCode });
      expect(taken.status === 'collected', `Osaka recorded the card ${taken.status}`);
      await pump();
      const atIssuer = await chiyoda.counter.status.get(second);
      expect(atIssuer.status === 'collected', `the issuing municipality holds ${atIssuer.status}`);
      const n = await national(second);
      expect(n?.status === 'collected', `the national center holds ${n?.status}`);
      const notice = await net('agency-pension').agency!.list.forCard(second);
      expect(notice?.status === 'collected', `agency-pension holds ${notice?.status}`);
      const before = await identityQueries();
      const r = await atAgency('agency-passport', secondSerial);
      expect(!r.accepted && r.failedAt === 'notices', `the returned card was not refused by the notice list (${r.accepted ? 'accepted' : r.failedAt})`);
      expect((await identityQueries()) === before, 'an identity record was requested for a returned card');
      const a = await net('municipality-131016').queries.query('national', { affair: 'juki.move-in', residentCode: HOLDER.residentCode });
      expect(a.records[0]?.record.municipality === '271004', `the national center's current record is at ${a.records[0]?.record.municipality}`);
      expect(a.records[0]?.card === 'no', `card flag ${a.records[0]?.card}, expected no`);
      return `Osaka took card ${second} in at move-in; card.returned → 131016 marked it collected → national → agencies; refused at the agency; identity record now at 271004 (card: no)`;
    });
  } catch (e) {
    if (!(e instanceof StepFailed)) {
      const r = { name: 'setup', ids: [], ok: false, detail: e instanceof JukiError ? `${e.code}: ${e.message}` : (e as Error)?.stack ?? String(e) };
      steps.push(r);
      o.onStep?.(r);
    }
  } finally {
    for (const n of nets.values()) await n.close().catch(() => undefined);
    for (const t of terminals) await t.close().catch(() => undefined);
    for (const d of dbs.values()) await d.close().catch(() => undefined);
  }
  return steps;
}
