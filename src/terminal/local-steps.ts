/**
 * The steps a terminal agent runs itself, on its own reader session, because they carry what
 * the holder types on the PIN pad (ARCHITECTURE.md, "The PIN path"): SELECT of the
 * application, then the PIN in VERIFY or CHANGE REFERENCE DATA, straight to the card. Each
 * answers with an outcome (a status word's meaning), never with the digits. The AIDs and
 * PIN policies are the card protocol's (docs/card-protocol.md); the terminal does not import
 * the card.
 */
import { concatBytes } from '../crypto/index.ts';
import { responseData, send, statusWord, type CardTransport } from '../reader/index.ts';
import { invalid, JukiError, toHex } from '../util/index.ts';
import { transmitPinCommand, type PinCharacters, type PinPad, type PinPadResult } from './pin-pad.ts';

/** An application with a holder PIN: its AID and the PIN's reference and length rules. */
export interface PinApplication {
  readonly name: string;
  readonly aid: Uint8Array;
  readonly pinRef: number;
  readonly minLength: number;
  readonly maxLength: number;
  /** What the PIN is made of (default digits). */
  readonly characters?: PinCharacters;
  /**
   * The status query answers `63 Cx` while the PIN is still unset (the JPKI AP's habit, so
   * OpenSC binds): "unset" cannot be told from "set" before trying, so setting goes straight
   * to CHANGE REFERENCE DATA P1=01, which a set PIN refuses with `69 82`.
   */
  readonly unsetAnswersTries?: boolean;
}

const JPKI_AID = Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01);

/** The applications whose PINs the pad sets (docs/card-protocol.md, "Applications", "JPKI area"). */
export const PIN_APPLICATIONS = {
  basic: { name: 'basic area', aid: Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x4a, 0x55, 0x4b, 0x49, 0x00, 0x01), pinRef: 1, minLength: 4, maxLength: 4 },
  operator: { name: 'operator card', aid: Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x4a, 0x55, 0x4b, 0x49, 0x00, 0x02), pinRef: 1, minLength: 4, maxLength: 8 },
  /** JPKI user-authentication PIN, EF 0018: 4 digits, 3 tries. */
  jpkiAuth: { name: 'JPKI user-authentication', aid: JPKI_AID, pinRef: 0x18, minLength: 4, maxLength: 4, unsetAnswersTries: true },
  /** JPKI signature password, EF 001B: 6–16 of A–Z 0–9 (the card also wants a letter and a digit), 5 tries. */
  jpkiSign: { name: 'JPKI signature', aid: JPKI_AID, pinRef: 0x1b, minLength: 6, maxLength: 16, characters: 'A-Z0-9', unsetAnswersTries: true },
} as const satisfies Record<string, PinApplication>;

export type PinApplicationName = keyof typeof PIN_APPLICATIONS;

/** The pad's non-entries, passed through as outcomes. */
export type PadOutcome = { readonly kind: 'cancelled' } | { readonly kind: 'mismatch' } | { readonly kind: 'invalid'; readonly reason: 'length' | 'characters' };

/** Setting a PIN on the pad: the card took it, or why not. */
export type PinSetOutcome =
  | { readonly kind: 'set' }
  /** The PIN is already set: CHANGE REFERENCE DATA P1=01 is only for an unset PIN (unblock or reset it first over the issuer channel). */
  | { readonly kind: 'already-set' }
  /** The card refused: `reason` is the status word's meaning. */
  | { readonly kind: 'refused'; readonly sw: string; readonly reason: string }
  | PadOutcome;

/** VERIFY with the pad: verified, or why not. */
export type PinVerifyOutcome =
  | { readonly kind: 'verified' }
  | { readonly kind: 'wrong'; readonly triesLeft: number }
  | { readonly kind: 'blocked' }
  | { readonly kind: 'not-set' }
  | { readonly kind: 'refused'; readonly sw: string; readonly reason: string }
  | PadOutcome;

/** Where a PIN stands, from the VERIFY status query (public: `00 20 00 81` → 63 Cx | 69 84). */
export type PinStatus = { readonly kind: 'set'; readonly triesLeft: number } | { readonly kind: 'blocked' } | { readonly kind: 'not-set' } | { readonly kind: 'unavailable'; readonly sw: string };

const SW_MEANING: Record<number, string> = {
  0x6982: 'security status not satisfied',
  0x6983: 'PIN blocked',
  0x6984: 'PIN not set',
  0x6985: 'conditions of use not satisfied (application not personalised, or the PIN must be set first)',
  0x6a80: 'the new PIN breaks the format rules',
  0x6a81: 'the card is terminated',
  0x6a82: 'no such application on this card',
  0x6a88: 'no such PIN reference',
};

/** The meaning of a status word, for outcomes and errors. */
export function swMeaning(sw: number): string {
  if ((sw & 0xfff0) === 0x63c0) return `wrong PIN, ${sw & 0x0f} tries left`;
  return SW_MEANING[sw] ?? `status ${swHex(sw)}`;
}

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

function pinApp(app: PinApplicationName | PinApplication): PinApplication {
  if (typeof app !== 'string') return app;
  const a = PIN_APPLICATIONS[app];
  if (!a) throw invalid('app', `expected ${Object.keys(PIN_APPLICATIONS).join(' or ')}, got ${JSON.stringify(app)}`);
  return a;
}

/** SELECT by AID (00 A4 04 0C). */
export async function selectApplication(transport: CardTransport, aid: Uint8Array): Promise<number> {
  return statusWord(await send(transport, concatBytes(Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, aid.length), aid)));
}

/**
 * The PIN's state, without a PIN: the VERIFY status query.
 *   C: 00 20 00 81   R: 63 Cx (set, x tries; 63 C0 blocked) | 69 83 (blocked) | 69 84 (not set)
 */
export async function pinStatus(transport: CardTransport, app: PinApplication): Promise<PinStatus> {
  const sw = statusWord(await send(transport, Uint8Array.of(0x00, 0x20, 0x00, 0x80 | app.pinRef)));
  if (sw === 0x6984) return { kind: 'not-set' };
  if (sw === 0x6983 || sw === 0x63c0) return { kind: 'blocked' };
  if ((sw & 0xfff0) === 0x63c0) return { kind: 'set', triesLeft: sw & 0x0f };
  return { kind: 'unavailable', sw: swHex(sw) };
}

function padOutcome(r: Exclude<PinPadResult, { kind: 'entered' }>): PadOutcome {
  return r.kind === 'invalid' ? { kind: 'invalid', reason: r.reason } : { kind: r.kind };
}

/**
 * The holder sets the application's PIN on the pad (R3.1.2ka/ki, R2.2.1a), typed twice and
 * compared in the pad. Only for an unset PIN (first setting, or after RESET RETRY COUNTER).
 *   00 A4 04 0C 0A <AID>              → 90 00
 *   00 20 00 81                       → 69 84 (not set; 63 Cx: already set, nothing asked)
 *   00 24 01 81 04 <PIN from the pad> → 90 00 | 6A 80 | 69 85
 * JPKI (`unsetAnswersTries`): `00 20 00 98` answers 63 Cx either way (63 C0: blocked, nothing
 * asked), so the pad is asked and `00 24 01 98 <PIN>` decides: 90 00, or 69 82 (already set).
 */
export async function setPinWithPad(transport: CardTransport, pad: PinPad, appName: PinApplicationName | PinApplication, prompt?: string): Promise<PinSetOutcome> {
  const app = pinApp(appName);
  const sel = await selectApplication(transport, app.aid);
  if (sel !== 0x9000) return { kind: 'refused', sw: swHex(sel), reason: swMeaning(sel) };
  const status = await pinStatus(transport, app);
  if (status.kind === 'blocked' || (status.kind === 'set' && !app.unsetAnswersTries)) return { kind: 'already-set' };
  if (status.kind === 'unavailable') return { kind: 'refused', sw: status.sw, reason: swMeaning(parseInt(status.sw, 16)) };
  const r = await pad.collect({
    prompt: prompt ?? `Set the ${app.name} PIN (${lengthText(app)})`, minLength: app.minLength, maxLength: app.maxLength, confirm: true,
    ...(app.characters ? { characters: app.characters } : {}),
  });
  if (r.kind !== 'entered') return padOutcome(r);
  const sw = await transmitPinCommand(transport, [0x00, 0x24, 0x01, 0x80 | app.pinRef], r.entry);
  if (sw === 0x6982 && app.unsetAnswersTries) return { kind: 'already-set' };
  return sw === 0x9000 ? { kind: 'set' } : { kind: 'refused', sw: swHex(sw), reason: swMeaning(sw) };
}

/**
 * The holder proves the PIN on the pad: the application stays selected and verified for what
 * the remote side does next through the relay (e.g. open its channel and read, R4.2.1).
 *   00 A4 04 0C 0A <AID> → 90 00 ;  00 20 00 81 04 <PIN from the pad> → 90 00 | 63 Cx | 69 83 | 69 84
 */
export async function verifyPinWithPad(transport: CardTransport, pad: PinPad, appName: PinApplicationName | PinApplication, prompt?: string): Promise<PinVerifyOutcome> {
  const app = pinApp(appName);
  const sel = await selectApplication(transport, app.aid);
  if (sel !== 0x9000) return { kind: 'refused', sw: swHex(sel), reason: swMeaning(sel) };
  const status = await pinStatus(transport, app);
  if (status.kind === 'not-set') return { kind: 'not-set' };
  if (status.kind === 'blocked') return { kind: 'blocked' };
  const r = await pad.collect({ prompt: prompt ?? `Enter the ${app.name} PIN`, minLength: app.minLength, maxLength: app.maxLength, ...(app.characters ? { characters: app.characters } : {}) });
  if (r.kind !== 'entered') return padOutcome(r);
  const sw = await transmitPinCommand(transport, [0x00, 0x20, 0x00, 0x80 | app.pinRef], r.entry);
  if (sw === 0x9000) return { kind: 'verified' };
  if (sw === 0x6983 || sw === 0x63c0) return { kind: 'blocked' };
  if ((sw & 0xfff0) === 0x63c0) return { kind: 'wrong', triesLeft: sw & 0x0f };
  if (sw === 0x6984) return { kind: 'not-set' };
  return { kind: 'refused', sw: swHex(sw), reason: swMeaning(sw) };
}

/** An operator card's answer to a login challenge. */
export type OperatorSignOutcome =
  | { readonly kind: 'signed'; readonly staffId: string; readonly publicKey: Uint8Array; readonly signature: Uint8Array }
  | Exclude<PinVerifyOutcome, { kind: 'verified' }>;

/**
 * Operator login on the card (R3.1.3ki): read the public staff id and login key, VERIFY the
 * operator PIN from the pad, sign the server's challenge.
 *   00 A4 04 0C 0A D392F0004A554B490002 → 90 00
 *   00 B0 82 00 00 → <staff id> 90 00 ;  00 B0 83 00 00 → <SPKI DER> 90 00
 *   00 20 00 81 Lc <PIN from the pad> → 90 00
 *   00 88 00 84 Lc <challenge 8..64> 00 → <ECDSA-SHA256 DER> 90 00
 */
export async function operatorSignWithPad(transport: CardTransport, pad: PinPad, challenge: Uint8Array, prompt?: string): Promise<OperatorSignOutcome> {
  if (challenge.length < 8 || challenge.length > 64) throw invalid('challenge', `expected 8 to 64 bytes, got ${challenge.length}`);
  const app = PIN_APPLICATIONS.operator;
  const sel = await selectApplication(transport, app.aid);
  if (sel !== 0x9000) return { kind: 'refused', sw: swHex(sel), reason: swMeaning(sel) };
  const staffId = await readPublic(transport, 0x82, 'staff id');
  const publicKey = await readPublic(transport, 0x83, 'login public key');
  const v = await verifyPinWithPad(transport, pad, app, prompt ?? 'Operator PIN');
  if (v.kind !== 'verified') return v;
  const r = await send(transport, concatBytes(Uint8Array.of(0x00, 0x88, 0x00, 0x84, challenge.length), challenge, Uint8Array.of(0x00)));
  const sw = statusWord(r);
  if (sw !== 0x9000) return { kind: 'refused', sw: swHex(sw), reason: swMeaning(sw) };
  return { kind: 'signed', staffId: Buffer.from(staffId).toString('ascii'), publicKey, signature: responseData(r).slice() };
}

async function readPublic(transport: CardTransport, p1: number, what: string): Promise<Uint8Array> {
  const r = await send(transport, Uint8Array.of(0x00, 0xb0, p1, 0x00, 0x00));
  const sw = statusWord(r);
  if (sw !== 0x9000) throw new JukiError('JUKI_ERR_CARD_STATUS', `operator card: reading the ${what}: the card answered ${swHex(sw)}`, { sw: swHex(sw), command: toHex(Uint8Array.of(0x00, 0xb0, p1, 0x00)) });
  return responseData(r).slice();
}

function lengthText(app: PinApplication): string {
  const what = app.characters === 'A-Z0-9' ? 'characters A-Z 0-9' : 'digits';
  return app.minLength === app.maxLength ? `${app.minLength} ${what}` : `${app.minLength} to ${app.maxLength} ${what}`;
}
