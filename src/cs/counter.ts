/**
 * The municipality's counter services over one node database, wired together: staff,
 * terminals, stock, card status, applications, issuance and moves. The card-side steps
 * (re-key a delivery, personalise a card) are injected: the card flows in `card-flows/`, or
 * test doubles.
 */
import type { Database } from '../db/index.ts';
import { JukiError } from '../util/index.ts';
import { ApplicationService } from './applications.ts';
import { CardStatusService, type TransitionRule } from './card-status.ts';
import { csContext, type CsContext, type CsContextOptions } from './context.ts';
import { IssuanceService, type CardStep, type IssuanceOptions } from './issuance.ts';
import { MoveService } from './moves.ts';
import type { OperatorCardDesk } from './operator-desk.ts';
import type { PinDesk } from './pin-desk.ts';
import { LocalPriorCards, type PriorCardLookup } from './prior-cards.ts';
import { StaffService, type StaffOptions } from './staff.ts';
import { StockService, type RekeyStep } from './stock.ts';
import { TerminalService } from './terminals.ts';

export interface CounterOptions extends CsContextOptions {
  readonly rekey?: RekeyStep;
  readonly cardStep?: CardStep;
  /** Default: this municipality's records only. */
  readonly priorCards?: PriorCardLookup;
  readonly transitions?: readonly TransitionRule[];
  readonly staff?: StaffOptions;
  readonly issuance?: IssuanceOptions;
  /** The PIN services, when the counter's terminals are wired (src/cs/card-steps.ts `openCounterWithCards`). */
  readonly pins?: (ctx: CsContext, status: CardStatusService) => PinDesk;
}

export interface Counter {
  readonly ctx: CsContext;
  readonly staff: StaffService;
  readonly terminals: TerminalService;
  readonly stock: StockService;
  readonly status: CardStatusService;
  readonly applications: ApplicationService;
  readonly issuance: IssuanceService;
  readonly moves: MoveService;
  /** PIN set at issuance, change, unblock: only with terminals wired. */
  readonly pins?: PinDesk;
  /** Operator cards made at a terminal, and the first administrator's set-up: only with terminals wired. */
  readonly operatorCards?: OperatorCardDesk;
}

/** Card steps for a node with no card flows wired: every call refuses, touching no card. */
export const NO_CARD_FLOWS: RekeyStep & CardStep = {
  async rekey() {
    throw new JukiError('JUKI_ERR_READER', 'no card flow is wired to this node: the delivery cannot be re-keyed here', { cardUntouched: true });
  },
  async personalise() {
    throw new JukiError('JUKI_ERR_READER', 'no card flow is wired to this node: the card cannot be personalised here', { cardUntouched: true });
  },
};

export function openCounter(database: Database, municipalityCode: string, options: CounterOptions = {}): Counter {
  const ctx = csContext(database, municipalityCode, options);
  const staff = new StaffService(ctx, options.staff);
  const status = new CardStatusService(ctx, options.transitions);
  const stock = new StockService(ctx, options.rekey ?? NO_CARD_FLOWS, staff);
  return {
    ctx,
    staff,
    terminals: new TerminalService(ctx),
    stock,
    status,
    applications: new ApplicationService(ctx, options.priorCards ?? new LocalPriorCards(status)),
    issuance: new IssuanceService(ctx, { cardStep: options.cardStep ?? NO_CARD_FLOWS, stock, status }, options.issuance),
    moves: new MoveService(ctx, status),
    ...(options.pins ? { pins: options.pins(ctx, status) } : {}),
  };
}
