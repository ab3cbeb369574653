/** Counter terminals: each registered with its card reader and its separate PIN pad. */
import type { Actor } from '../audit/index.ts';
import { isUniqueViolation } from '../db/index.ts';
import { JukiError } from '../util/index.ts';
import { parseId, parseText, type CsContext, type Trx } from './context.ts';

export interface Terminal {
  readonly terminalId: string;
  readonly name: string;
  /** The card reader's name at the terminal agent. */
  readonly reader: string;
  /** The PIN pad's name at the terminal agent (a separate device from the reader). */
  readonly pinPad: string;
  readonly active: boolean;
  readonly createdAt: string;
}

export class TerminalService {
  readonly #ctx: CsContext;

  constructor(ctx: CsContext) {
    this.#ctx = ctx;
  }

  async register(actor: Actor, input: { terminalId: string; name: string; reader: string; pinPad: string }): Promise<Terminal> {
    const terminalId = parseId(input?.terminalId, 'terminalId');
    const name = parseText(input.name, 'name', 100);
    const reader = parseText(input.reader, 'reader', 100);
    const pinPad = parseText(input.pinPad, 'pinPad', 100);
    if (reader === pinPad) throw new JukiError('JUKI_ERR_INVALID_INPUT', `pinPad: the PIN pad must be a device separate from the card reader, got ${JSON.stringify(pinPad)} for both`, { field: 'pinPad' });
    const createdAt = this.#ctx.now().toISOString();
    try {
      await this.#ctx.database.transaction(async (trx) => {
        await trx.insertInto('cs_terminals').values({ terminal_id: terminalId, name, reader, pin_pad: pinPad, active: 1, created_at: createdAt }).execute();
        await this.#ctx.audit.append(trx, { type: 'cs.terminal.registered', actor, details: { terminal: terminalId, reader, pad: pinPad } });
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new JukiError('JUKI_ERR_CONFLICT', `terminalId: a terminal ${terminalId} is already registered`, { field: 'terminalId' });
      throw e;
    }
    return { terminalId, name, reader, pinPad, active: true, createdAt };
  }

  async list(): Promise<Terminal[]> {
    const rows = await this.#ctx.database.db.selectFrom('cs_terminals').selectAll().orderBy('terminal_id').execute();
    return rows.map(toTerminal);
  }

  /** The terminal, which must be registered and active; JUKI_ERR_NOT_FOUND otherwise. */
  async require(terminalIdInput: unknown, db: Trx | CsContext['database']['db'] = this.#ctx.database.db): Promise<Terminal> {
    const terminalId = parseId(terminalIdInput, 'terminalId');
    const row = await db.selectFrom('cs_terminals').selectAll().where('terminal_id', '=', terminalId).executeTakeFirst();
    if (!row || row.active !== 1) throw new JukiError('JUKI_ERR_NOT_FOUND', `terminalId: no active terminal ${terminalId}`, { field: 'terminalId' });
    return toTerminal(row);
  }
}

function toTerminal(row: { terminal_id: string; name: string; reader: string; pin_pad: string; active: number; created_at: string }): Terminal {
  return { terminalId: row.terminal_id, name: row.name, reader: row.reader, pinPad: row.pin_pad, active: row.active === 1, createdAt: row.created_at };
}
