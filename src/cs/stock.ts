/**
 * Blank-card stock (R3.1.1a, R3.1.1i): deliveries, the safe, take-out and return by named
 * staff for a named terminal, use and spoiling, and the reconciliation report.
 *
 *   received ──re-key ok──▶ in-safe ──take-out──▶ taken-out ──issuance──▶ used
 *      │  (re-key failed:       ▲                    │ │
 *      │   stays received)      └──────return────────┘ └──spoil / failed issuance──▶ spoiled
 *      └──────────────spoil──────────────────────────────────────────────────────────▶ spoiled
 *
 * A card enters the safe only after the injected re-key step has replaced the maker's
 * transport keys with this municipality's (R3.1.1a). Every movement is one ledger row
 * (cs_stock_events), one audit entry and the new state, in one transaction; a movement is
 * a conditional update on the state it starts from, so two terminals can never both take out
 * the same card. A spoiled card is destroyed under a witness (another staff member).
 */
import type { Actor } from '../audit/index.ts';
import { isUniqueViolation } from '../db/index.ts';
import { JukiError, type ErrorCode } from '../util/index.ts';
import { actorId, parseId, parseSerial, parseText, type CsContext, type Trx } from './context.ts';
import type { StaffService } from './staff.ts';

export const STOCK_STATES = ['received', 'in-safe', 'taken-out', 'used', 'spoiled'] as const;
export type StockState = (typeof STOCK_STATES)[number];

/** Replaces one blank card's transport keys with the municipality's own (the card-flows re-key). */
export interface RekeyStep {
  rekey(card: { readonly serial: string; readonly lot: string; readonly transportKeyRef: string }): Promise<void>;
}

export interface StockCard {
  readonly serial: string;
  readonly lot: string;
  readonly state: StockState;
  readonly staffId: string | null;
  readonly terminalId: string | null;
  readonly witnessedBy: string | null;
  readonly reason: string | null;
  readonly updatedAt: string;
}

export interface LedgerEvent {
  readonly serial: string;
  readonly seq: number;
  readonly at: string;
  readonly event: string;
  readonly from: StockState | null;
  readonly to: StockState;
  readonly staffId: string;
  readonly terminalId: string | null;
  readonly witnessedBy: string | null;
  readonly reason: string | null;
}

export interface ReceiveResult {
  readonly serial: string;
  /** `in-safe` when re-keyed; `received` when the re-key failed (the card stays out of the safe). */
  readonly state: StockState;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface Alarm {
  readonly serial: string;
  /** `missing-record` | `state-mismatch` | `no-ledger` | `missing-from-safe` | `unexpected-in-safe` | `used-without-card` | `lot-count` */
  readonly alarm: string;
  readonly expected?: string;
  readonly found?: string;
}

export interface ReconciliationReport {
  readonly at: string;
  readonly counts: { readonly [S in StockState]: number };
  readonly total: number;
  readonly delivered: number;
  readonly takenOut: readonly { serial: string; staffId: string | null; terminalId: string | null }[];
  /** Spoiled cards whose destruction has not been witnessed yet. */
  readonly awaitingDestruction: readonly string[];
  readonly alarms: readonly Alarm[];
}

interface Movement {
  readonly event: string;
  readonly from: readonly StockState[];
  readonly to: StockState;
  /** For `taken-out`: the terminal it goes to; for use: the terminal it must be at. */
  readonly terminalId?: string | null;
  readonly requireTerminal?: string;
  readonly witnessedBy?: string | null;
  readonly reason?: string | null;
  /** Keep the current holder (staff, terminal) rather than clearing it. */
  readonly keepHolder?: boolean;
}

export class StockService {
  readonly #ctx: CsContext;
  readonly #rekey: RekeyStep;
  readonly #staff: StaffService;

  constructor(ctx: CsContext, rekey: RekeyStep, staff: StaffService) {
    this.#ctx = ctx;
    this.#rekey = rekey;
    this.#staff = staff;
  }

  /**
   * Receive a delivery lot: record every card `received`, then re-key each and admit to the
   * safe only those re-keyed. Returns one result per card (a failed re-key does not stop the
   * others; `rekeyPending` tries again).
   */
  async receiveLot(actor: Actor, input: { lot: string; transportKeyRef: string; serials: readonly string[] }): Promise<ReceiveResult[]> {
    const lot = parseId(input?.lot, 'lot');
    const transportKeyRef = parseText(input.transportKeyRef, 'transportKeyRef', 128);
    if (!Array.isArray(input.serials) || input.serials.length === 0 || input.serials.length > 10000) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `serials: expected 1 to 10000 card serials, got ${Array.isArray(input.serials) ? input.serials.length : 'no list'}`, { field: 'serials' });
    }
    const serials = input.serials.map((s, i) => parseSerial(s, `serials[${i}]`));
    const dup = serials.find((s, i) => serials.indexOf(s) !== i);
    if (dup) throw new JukiError('JUKI_ERR_INVALID_INPUT', `serials: ${dup} is listed twice`, { field: 'serials' });
    const at = this.#ctx.now().toISOString();
    try {
      await this.#ctx.database.transaction(async (trx) => {
        await trx.insertInto('cs_lots').values({ lot, transport_key_ref: transportKeyRef, card_count: serials.length, received_by: actorId(actor), received_at: at }).execute();
        for (const serial of serials) {
          await trx.insertInto('cs_stock').values({ serial, lot, state: 'received', staff_id: null, terminal_id: null, witnessed_by: null, reason: null, version: 1, updated_at: at }).execute();
          await this.#ledger(trx, actor, lot, serial, 1, { event: 'received', from: [], to: 'received' }, null, null);
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new JukiError('JUKI_ERR_CONFLICT', `lot: the lot ${lot} or one of its serials was received before`, { field: 'lot' });
      throw e;
    }
    return this.#rekeyAll(actor, lot, transportKeyRef, serials);
  }

  /** Try the re-key again for the cards of a lot still `received`. */
  async rekeyPending(actor: Actor, lotInput: string): Promise<ReceiveResult[]> {
    const lot = parseId(lotInput, 'lot');
    const row = await this.#ctx.database.db.selectFrom('cs_lots').select('transport_key_ref').where('lot', '=', lot).executeTakeFirst();
    if (!row) throw new JukiError('JUKI_ERR_NOT_FOUND', `lot: no lot ${lot}`, { field: 'lot' });
    const serials = (await this.#ctx.database.db.selectFrom('cs_stock').select('serial').where('lot', '=', lot).where('state', '=', 'received').orderBy('serial').execute()).map((r) => r.serial);
    return this.#rekeyAll(actor, lot, row.transport_key_ref, serials);
  }

  async #rekeyAll(actor: Actor, lot: string, transportKeyRef: string, serials: readonly string[]): Promise<ReceiveResult[]> {
    const results: ReceiveResult[] = [];
    for (const serial of serials) {
      try {
        await this.#rekey.rekey({ serial, lot, transportKeyRef });
      } catch (e) {
        const code = e instanceof JukiError ? e.code : 'JUKI_ERR_INTERNAL';
        const message = e instanceof JukiError ? e.message : 'the re-key step failed';
        await this.#ctx.audit.record({
          type: 'cs.stock.moved', actor, subject: { kind: 'batch', id: lot }, outcome: 'error', reason: code,
          details: { serial, event: 'rekey-failed', from: 'received', to: 'received' },
        });
        results.push({ serial, state: 'received', error: { code, message } });
        continue;
      }
      await this.#ctx.database.transaction((trx) => this.moveIn(trx, actor, serial, { event: 'rekeyed', from: ['received'], to: 'in-safe' }));
      results.push({ serial, state: 'in-safe' });
    }
    return results;
  }

  /** Take a card out of the safe for a terminal: the one named, or the first in the safe. */
  async takeOut(actor: Actor, input: { terminalId: string; serial?: string }): Promise<StockCard> {
    const terminalId = parseId(input?.terminalId, 'terminalId');
    const terminal = await this.#ctx.database.db.selectFrom('cs_terminals').select('active').where('terminal_id', '=', terminalId).executeTakeFirst();
    if (!terminal || terminal.active !== 1) throw new JukiError('JUKI_ERR_NOT_FOUND', `terminalId: no active terminal ${terminalId}`, { field: 'terminalId' });
    let serial = input.serial === undefined ? undefined : parseSerial(input.serial);
    if (serial === undefined) {
      const first = await this.#ctx.database.db.selectFrom('cs_stock').select('serial').where('state', '=', 'in-safe').orderBy('serial').limit(1).executeTakeFirst();
      if (!first) throw new JukiError('JUKI_ERR_CS_STOCK_STATE', 'stock: no blank card is in the safe', { field: 'serial' });
      serial = first.serial;
    }
    const s = serial;
    return this.#ctx.database.transaction((trx) => this.moveIn(trx, actor, s, { event: 'taken-out', from: ['in-safe'], to: 'taken-out', terminalId }));
  }

  /** Put a taken-out card back in the safe. */
  returnToSafe(actor: Actor, serialInput: string): Promise<StockCard> {
    const serial = parseSerial(serialInput);
    return this.#ctx.database.transaction((trx) => this.moveIn(trx, actor, serial, { event: 'returned', from: ['taken-out'], to: 'in-safe' }));
  }

  /**
   * Record a card as spoiled and destroyed under a witness: from the terminal (taken-out),
   * from a delivery that could not be re-keyed (received), or a card spoiled by a failed
   * issuance that awaits its witnessed destruction.
   */
  async spoil(actor: Actor, input: { serial: string; reason: string; witnessedBy: string }): Promise<StockCard> {
    const serial = parseSerial(input?.serial);
    const reason = parseText(input.reason, 'reason', 200);
    const witness = await this.#staff.checkWitness(actor, input.witnessedBy);
    return this.#ctx.database.transaction(async (trx) => {
      const current = await this.#row(trx, serial);
      if (current.state === 'spoiled' && current.witnessed_by === null) {
        return this.moveIn(trx, actor, serial, { event: 'destroyed', from: ['spoiled'], to: 'spoiled', witnessedBy: witness, reason: current.reason ?? reason });
      }
      return this.moveIn(trx, actor, serial, { event: 'spoiled', from: ['taken-out', 'received'], to: 'spoiled', witnessedBy: witness, reason });
    });
  }

  /** Mark a taken-out card used by an issuance at `terminalId` (inside the issuance's transaction). */
  markUsed(trx: Trx, actor: Actor, serial: string, terminalId: string): Promise<StockCard> {
    return this.moveIn(trx, actor, serial, { event: 'used', from: ['taken-out'], to: 'used', requireTerminal: terminalId, keepHolder: true });
  }

  /** Mark a card spoiled by a failed or interrupted issuance: it awaits witnessed destruction. */
  markSpoiledByIssuance(trx: Trx, actor: Actor, serial: string, reason: string): Promise<StockCard> {
    return this.moveIn(trx, actor, serial, { event: 'spoiled', from: ['taken-out'], to: 'spoiled', reason, keepHolder: true });
  }

  async get(serialInput: string): Promise<StockCard> {
    return toCard(await this.#row(this.#ctx.database.db, parseSerial(serialInput)));
  }

  /** The ledger of one card, oldest first. */
  async ledger(serialInput: string): Promise<LedgerEvent[]> {
    const serial = parseSerial(serialInput);
    const rows = await this.#ctx.database.db.selectFrom('cs_stock_events').selectAll().where('serial', '=', serial).orderBy('seq').execute();
    return rows.map(toEvent);
  }

  /**
   * The reconciliation report: counts per state, and an alarm for every card the ledger, the
   * stock records, the issued cards and (when given) the physical count of the safe do not
   * agree on. The report and each alarm are audited.
   */
  async reconcile(actor: Actor, options: { counted?: readonly string[] } = {}): Promise<ReconciliationReport> {
    const counted = options.counted?.map((s, i) => parseSerial(s, `counted[${i}]`));
    return this.#ctx.database.transaction(async (trx) => {
      const stock = await trx.selectFrom('cs_stock').selectAll().orderBy('serial').execute();
      const events = await trx.selectFrom('cs_stock_events').select(['serial', 'seq', 'to_state']).orderBy('serial').orderBy('seq').execute();
      const lots = await trx.selectFrom('cs_lots').select(['lot', 'card_count']).execute();
      const usedWithCard = new Set((await trx.selectFrom('cs_cards').select('serial').where('serial', 'is not', null).execute()).map((r) => r.serial!));
      // A blank card made an operator card is used too: its staff member's record names it.
      for (const r of await trx.selectFrom('cs_staff').select('card_serial').execute()) usedWithCard.add(r.card_serial);
      const expected = new Map<string, string>();
      for (const e of events) expected.set(e.serial, e.to_state);
      const bySerial = new Map(stock.map((r) => [r.serial, r]));
      const alarms: Alarm[] = [];
      for (const [serial, state] of expected) {
        const row = bySerial.get(serial);
        if (!row) alarms.push({ serial, alarm: 'missing-record', expected: state, found: 'none' });
        else if (row.state !== state) alarms.push({ serial, alarm: 'state-mismatch', expected: state, found: row.state });
      }
      for (const row of stock) {
        if (!expected.has(row.serial)) alarms.push({ serial: row.serial, alarm: 'no-ledger', found: row.state });
        if (row.state === 'used' && !usedWithCard.has(row.serial)) alarms.push({ serial: row.serial, alarm: 'used-without-card', expected: 'a card record', found: 'none' });
      }
      const perLot = new Map<string, number>();
      for (const row of stock) perLot.set(row.lot, (perLot.get(row.lot) ?? 0) + 1);
      for (const l of lots) {
        const n = perLot.get(l.lot) ?? 0;
        if (n !== l.card_count) alarms.push({ serial: l.lot, alarm: 'lot-count', expected: String(l.card_count), found: String(n) });
      }
      if (counted) {
        const inSafe = new Set(stock.filter((r) => r.state === 'in-safe').map((r) => r.serial));
        const seen = new Set(counted);
        for (const s of inSafe) if (!seen.has(s)) alarms.push({ serial: s, alarm: 'missing-from-safe', expected: 'in-safe', found: 'not counted' });
        for (const s of seen) if (!inSafe.has(s)) alarms.push({ serial: s, alarm: 'unexpected-in-safe', expected: bySerial.get(s)?.state ?? 'no record', found: 'in the safe' });
      }
      const counts = Object.fromEntries(STOCK_STATES.map((s) => [s, stock.filter((r) => r.state === s).length])) as { [S in StockState]: number };
      const report: ReconciliationReport = {
        at: this.#ctx.now().toISOString(),
        counts,
        total: stock.length,
        delivered: lots.reduce((n, l) => n + l.card_count, 0),
        takenOut: stock.filter((r) => r.state === 'taken-out').map((r) => ({ serial: r.serial, staffId: r.staff_id, terminalId: r.terminal_id })),
        awaitingDestruction: stock.filter((r) => r.state === 'spoiled' && r.witnessed_by === null).map((r) => r.serial),
        alarms,
      };
      await this.#ctx.audit.append(trx, {
        type: 'cs.stock.reconciled', actor, ...(alarms.length ? { outcome: 'error' as const, reason: 'stock-alarm' } : {}),
        details: { counts, alarms: alarms.length },
      });
      for (const a of alarms) {
        await this.#ctx.audit.append(trx, {
          type: 'cs.stock.alarm', actor, outcome: 'error', reason: a.alarm,
          details: { serial: a.serial, alarm: a.alarm, ...(a.expected ? { expected: a.expected } : {}), ...(a.found ? { found: a.found } : {}) },
        });
      }
      return report;
    });
  }

  /** Apply one movement inside `trx`: conditional on the state it starts from; ledger and audit with it. */
  async moveIn(trx: Trx, actor: Actor, serial: string, m: Movement): Promise<StockCard> {
    const current = await this.#row(trx, serial, true);
    const refuse = (code: ErrorCode, why: string): JukiError => new JukiError(code, `serial ${serial}: ${why}`, { field: 'serial', serial, state: current.state });
    if (!m.from.includes(current.state as StockState)) {
      throw refuse('JUKI_ERR_CS_STOCK_STATE', `expected a card ${m.from.join(' or ')}, but it is ${current.state}`);
    }
    if (m.requireTerminal !== undefined && current.terminal_id !== m.requireTerminal) {
      throw refuse('JUKI_ERR_CS_STOCK_STATE', `taken out for terminal ${current.terminal_id}, not ${m.requireTerminal}`);
    }
    const at = this.#ctx.now().toISOString();
    const holder = m.keepHolder
      ? { staff_id: current.staff_id, terminal_id: current.terminal_id }
      : m.to === 'taken-out'
        ? { staff_id: actorId(actor), terminal_id: m.terminalId ?? null }
        : { staff_id: null, terminal_id: null };
    const updated = await trx
      .updateTable('cs_stock')
      .set({
        state: m.to,
        ...holder,
        witnessed_by: m.witnessedBy ?? null,
        reason: m.reason ?? null,
        version: current.version + 1,
        updated_at: at,
      })
      .where('serial', '=', serial)
      .where('version', '=', current.version)
      .executeTakeFirst();
    // On PostgreSQL the row is locked; on SQLite the transaction is exclusive. A guard all the same.
    if (updated.numUpdatedRows !== 1n) throw refuse('JUKI_ERR_CONFLICT', 'changed by a concurrent operation');
    await this.#ledger(trx, actor, current.lot, serial, current.version + 1, m, current.state as StockState, holder.terminal_id);
    return toCard({ ...current, state: m.to, ...holder, witnessed_by: m.witnessedBy ?? null, reason: m.reason ?? null, updated_at: at });
  }

  async #ledger(trx: Trx, actor: Actor, lot: string, serial: string, seq: number, m: Movement, from: StockState | null, terminalId: string | null): Promise<void> {
    await trx.insertInto('cs_stock_events').values({
      serial, seq, at: this.#ctx.now().toISOString(), event: m.event, from_state: from, to_state: m.to,
      staff_id: actorId(actor), terminal_id: terminalId, witnessed_by: m.witnessedBy ?? null, reason: m.reason ?? null,
    }).execute();
    await this.#ctx.audit.append(trx, {
      type: 'cs.stock.moved', actor, subject: { kind: 'batch', id: lot },
      details: {
        serial, event: m.event, to: m.to, ...(from ? { from } : {}), ...(terminalId ? { terminal: terminalId } : {}),
        ...(m.witnessedBy ? { witness: m.witnessedBy } : {}), ...(m.reason ? { why: m.reason } : {}),
      },
    });
  }

  async #row(db: Trx | CsContext['database']['db'], serial: string, lock = false) {
    let q = db.selectFrom('cs_stock').selectAll().where('serial', '=', serial);
    if (lock && this.#ctx.database.dialect === 'postgres') q = q.forUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw new JukiError('JUKI_ERR_NOT_FOUND', `serial: no blank card ${serial} in stock`, { field: 'serial' });
    return row;
  }
}

function toCard(row: { serial: string; lot: string; state: string; staff_id: string | null; terminal_id: string | null; witnessed_by: string | null; reason: string | null; updated_at: string }): StockCard {
  return {
    serial: row.serial, lot: row.lot, state: row.state as StockState, staffId: row.staff_id, terminalId: row.terminal_id,
    witnessedBy: row.witnessed_by, reason: row.reason, updatedAt: row.updated_at,
  };
}

function toEvent(row: { serial: string; seq: number; at: string; event: string; from_state: string | null; to_state: string; staff_id: string; terminal_id: string | null; witnessed_by: string | null; reason: string | null }): LedgerEvent {
  return {
    serial: row.serial, seq: row.seq, at: row.at, event: row.event, from: row.from_state as StockState | null, to: row.to_state as StockState,
    staffId: row.staff_id, terminalId: row.terminal_id, witnessedBy: row.witnessed_by, reason: row.reason,
  };
}
