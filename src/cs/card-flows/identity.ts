/**
 * What a CS may read from a card without the holder's PIN, for renewal and return checks:
 * the issuer domain's serial and lifecycle (GET DATA, public) and whether the basic area is
 * there and where its PIN stands (VERIFY status query, public). The card number, resident code
 * and the rest of the basic area need PIN + the area's own channel (R4.2.1): not here.
 *
 *   00 A4 04 0C 08 A000000151000000 ; 80 CA 00 45 00 ; 80 CA 9F 70 00 ; 80 CA 00 E0 00
 *   00 A4 04 0C 0A D392F0004A554B490001 → 90 00 | 6A 82 (none) | 6A 81 (terminated)
 *   00 20 00 81 → 63 Cx | 69 83 | 69 84 | 69 85 (not personalised)
 */
import type { CardTransport } from '../../reader/index.ts';
import { PIN_APPLICATIONS, pinStatus, type PinStatus } from '../../terminal/index.ts';
import { toHex } from '../../util/index.ts';
import { readIsdFacts, type IsdKeys } from './card-state.ts';
import { BASIC_AID, select, type CardLifecycle } from './wire.ts';

export interface CardIdentity {
  readonly serial: string;
  readonly atr: string;
  readonly lifecycle: CardLifecycle;
  readonly keys: IsdKeys;
  readonly basicArea: 'present' | 'absent' | 'terminated';
  /** The basic-area PIN's state, when the area is present. */
  readonly pin?: PinStatus;
}

/** Read the card's public identity. */
export async function readCardIdentity(transport: CardTransport): Promise<CardIdentity> {
  const { state } = await readIsdFacts(transport);
  const sw = await select(transport, BASIC_AID);
  const base = { serial: state.serial, atr: toHex(transport.atr), lifecycle: state.lifecycle, keys: state.keys };
  if (sw === 0x6a81) return { ...base, basicArea: 'terminated' };
  if (sw !== 0x9000) return { ...base, basicArea: 'absent' };
  return { ...base, basicArea: 'present', pin: await pinStatus(transport, PIN_APPLICATIONS.basic) };
}
