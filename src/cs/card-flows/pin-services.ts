/**
 * PIN services at the counter (R3.1.2ka/ki, R3.2.2a, R3.2.2i, R2.2.1a). The PIN itself only
 * ever goes from the PIN pad to the card in a command the terminal agent sends locally
 * (src/terminal); what runs here is the issuer side:
 *
 *   unblock / holder change (issuer channel, keys on the CS, through the relay):
 *     00 A4 04 0C 0A D392F0004A554B490001        → 90 00
 *     00 20 00 81                                → 63 Cx | 69 83 (blocked) | 69 84 (already unset)
 *     80 50 01 00 08 .. 00 ; 84 82 33 00 10 ..   the basic area accepts the issuer's channel
 *     04 2C 03 81 08 <C-MAC>                     → 90 00 <R-MAC>: counter restored, PIN unset
 *   then the holder, on the pad (terminal, local):
 *     00 A4 04 0C 0A D392F0004A554B490001 ; 00 24 01 81 04 <PIN> → 90 00
 *
 * The card allows no other way: CHANGE REFERENCE DATA needs the old PIN (or a VERIFY), and
 * RESET RETRY COUNTER takes no new PIN (P1 = 03 only), so a holder who forgot the PIN (R3.2.2a)
 * has it reset over the issuer channel and sets a new one, exactly as after a block (R3.2.2i).
 * Between the two the basic area answers nothing but PIN setting (69 85), so the card is
 * unusable until the holder has typed the new PIN.
 */
import type { CardTransport } from '../../reader/index.ts';
import { PIN_APPLICATIONS, pinStatus, setPinWithPad, type PinApplicationName, type PinPad, type PinSetOutcome, type PinStatus } from '../../terminal/index.ts';
import { invalid, JukiError, toHex } from '../../util/index.ts';
import { wipeKeys, type CardKeySource } from './card-keys.ts';
import { FlowSteps, type CardFlowObserver } from './steps.ts';
import { cardRefused, ISD_AID, SecureSession, select } from './wire.ts';
import type { Scp03StaticKeys } from '../../crypto/index.ts';

/**
 * The holder sets the PIN on the pad (first setting at issuance, or after a reset). Runs where
 * the pad and the reader are (the terminal agent; in one process, here): `transport` must be
 * the terminal's local session, never a relay from a server. Only the outcome comes back.
 */
export function setPinOnPinPad(transport: CardTransport, pinPad: PinPad, app: PinApplicationName = 'basic'): Promise<PinSetOutcome> {
  return setPinWithPad(transport, pinPad, app);
}

export interface UnblockOptions {
  readonly app?: PinApplicationName;
  readonly observer?: CardFlowObserver;
}

export interface UnblockResult {
  readonly serial: string;
  readonly app: PinApplicationName;
  /** Where the PIN stood before: blocked, set (a holder's change) or already unset (nothing was sent). */
  readonly before: PinStatus['kind'];
  /** Always unset now: the holder sets a new PIN on the pad. */
  readonly pin: 'unset';
}

/**
 * R3.2.2i (issuer side): RESET RETRY COUNTER over the issuer's secure channel; the PIN is then
 * unset and the holder sets a new one with setPinOnPinPad. `transport` may be a relay.
 */
export async function unblockPin(transport: CardTransport, issuerKeys: CardKeySource, options: UnblockOptions = {}): Promise<UnblockResult> {
  const appName = options.app ?? 'basic';
  const app = PIN_APPLICATIONS[appName];
  if (!app) throw invalid('app', `expected ${Object.keys(PIN_APPLICATIONS).join(' or ')}, got ${JSON.stringify(appName)}`);
  const steps = new FlowSteps('unblockPin', options.observer);
  const sel = await steps.run(`SELECT ${app.name}`, () => select(transport, app.aid));
  if (sel !== 0x9000) throw cardRefused(`SELECT ${app.name}`, sel);
  const before = await steps.run('PIN status', () => pinStatus(transport, app));
  if (before.kind === 'unavailable') throw cardRefused(`${app.name} PIN status`, parseInt(before.sw, 16));
  let serial = '';
  if (before.kind === 'not-set') {
    steps.skip('RESET RETRY COUNTER', { reason: 'already unset' });
    return { serial, app: appName, before: before.kind, pin: 'unset' };
  }
  const derived: Scp03StaticKeys[] = [];
  let session: SecureSession;
  try {
    session = await steps.run('open the issuer channel', () =>
      SecureSession.open(transport, (s) => {
        serial = toHex(s);
        const k = issuerKeys.keysFor(s);
        derived.push(k);
        return k;
      }, issuerKeys.kvn, ISD_AID));
  } finally {
    derived.forEach(wipeKeys);
  }
  try {
    await steps.run('RESET RETRY COUNTER', () => session.expect('RESET RETRY COUNTER', 0x00, 0x2c, 0x03, 0x80 | app.pinRef), { serial });
  } finally {
    session.close();
  }
  return { serial, app: appName, before: before.kind, pin: 'unset' };
}

/** A recorded identity verification (the books' record of it): required before a holder's PIN change. */
export interface IdentityVerificationRef {
  readonly id: string;
  readonly method: string;
}

export interface HolderPinChange {
  readonly issuerKeys: CardKeySource;
  /** R3.2.2a: the identity verification recorded at the counter for this request. */
  readonly identityVerification: IdentityVerificationRef;
  /** The pad step, where the pad is: `() => agent.setPin(reader, 'basic')`, or `() => setPinOnPinPad(local, pad)` in one process. */
  readonly setPinOnPad: () => Promise<PinSetOutcome>;
  readonly app?: PinApplicationName;
  readonly observer?: CardFlowObserver;
}

export interface HolderPinChangeResult {
  readonly serial: string;
  readonly identityVerification: string;
  /** The pad's outcome; anything but `set` leaves the PIN unset (the card refuses use until it is set). */
  readonly outcome: PinSetOutcome;
}

/**
 * R3.2.2a: after recorded identity verification, the holder sets a new PIN without the old
 * one: reset over the issuer channel (unblockPin), then the holder types it on the pad.
 */
export async function changePinByHolder(transport: CardTransport, change: HolderPinChange): Promise<HolderPinChangeResult> {
  const v = change.identityVerification;
  if (!v || typeof v.id !== 'string' || v.id.length === 0 || typeof v.method !== 'string' || v.method.length === 0) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', 'identityVerification: a PIN change needs the recorded identity verification (id and method), got none', { field: 'identityVerification' });
  }
  const app = change.app ?? 'basic';
  const reset = await unblockPin(transport, change.issuerKeys, { app, ...(change.observer ? { observer: change.observer } : {}) });
  const outcome = await change.setPinOnPad();
  change.observer?.({ flow: 'changePinByHolder', step: 'holder sets the PIN on the pad', outcome: outcome.kind === 'set' ? 'done' : 'failed', detail: { outcome: outcome.kind } });
  return { serial: reset.serial, identityVerification: v.id, outcome };
}
