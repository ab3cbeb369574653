/**
 * The counter's one step in a card's JPKI area (R5.1): the issuer security domain installs the
 * JPKI AP, and that is all. No key of the area passes through the CS: the card binds the AP's
 * security domain to the initial key set its maker put on it (KVN 4F, diversified from the JPKI
 * initial master the jpki side shares with the maker), and the jpki role replaces that set by
 * its own (KVN 50) over its own channel the first time it opens the area (`personaliseJpkiCard`).
 * The CS holds no JPKI key, cannot obtain one, and cannot open the area (it accepts no issuer channel).
 *
 *   00 A4 04 0C 08 A000000151000000 ; 80 CA 00 45 / 9F 70 / 00 E0            serial, lifecycle, KVNs
 *   80 50 01 00 08 .. 00 ; 84 82 33 00 10 ..                                open with the issuer keys
 *   84 F2 40 02 .. 4F 00 ..                                                 is the JPKI AP there already?
 *   84 E6 0C 00 Lc E(00 0A <JPKI AID> 0A <JPKI AID> 01 00 02 C900 00) .. 00  INSTALL [install and make selectable]
 *        → 69 85: the card was made without the JPKI initial key set (JUKI_ERR_CARD_STATE, nothing changed)
 *   84 E6 20 00 Lc E(00 00 0A <JPKI AID> 00 00 00) .. 00                      INSTALL [for personalization]
 *   84 E2 80 00 08 <C-MAC>                                                  STORE DATA, last block, no data: the AP is personalised
 *
 * Restartable: an AP already personalised is left alone (`alreadyInstalled`); one installed
 * but not personalised is personalised.
 */
import { concatBytes } from '../../crypto/index.ts';
import { JPKI_CARD_AID, JPKI_INITIAL_KVN } from '../../jpki/index.ts';
import type { CardTransport } from '../../reader/index.ts';
import { toHex } from '../../util/index.ts';
import { wipeKeys, type CardKeySource } from './card-keys.ts';
import { applicationStates, cardStateError, readIsdFacts } from './card-state.ts';
import { installData } from './personalise.ts';
import { FlowSteps, type CardFlowObserver } from './steps.ts';
import { ISD_AID, SecureSession } from './wire.ts';

export interface JpkiAreaPlan {
  /** The municipality's issuer keys (the card must be personalised: transport keys replaced). */
  readonly issuerKeys: CardKeySource;
  readonly observer?: CardFlowObserver;
}

export interface JpkiAreaResult {
  readonly serial: string;
  /** The KVN the JPKI domain was bound to at install: the maker's initial set (4F), until the jpki role replaces it. */
  readonly kvn: number;
  /** The AP was already installed and personalised: nothing was changed. */
  readonly alreadyInstalled: boolean;
}

/** Install the JPKI AP on the card behind `transport` (which may be a relay). Sends no key: the card binds the area to its maker's initial set. */
export async function installJpkiArea(transport: CardTransport, plan: JpkiAreaPlan): Promise<JpkiAreaResult> {
  const steps = new FlowSteps('installJpkiArea', plan.observer);
  const { serial, state } = await steps.run('read card', () => readIsdFacts(transport));
  if (state.lifecycle !== 'personalised' && state.lifecycle !== 'active') throw cardStateError(`expected a personalised card, it is ${state.lifecycle}`, state);
  if (state.keys !== 'issuer' || !state.keyVersions.includes(plan.issuerKeys.kvn)) {
    throw cardStateError(`expected the issuer keys (KVN ${hex2(plan.issuerKeys.kvn)}), the card holds KVN ${state.keyVersions.map(hex2).join(', ') || 'none'}`, state);
  }
  const issuer = plan.issuerKeys.keysFor(serial);
  let session: SecureSession;
  try {
    session = await steps.run('open with issuer keys', () => SecureSession.open(transport, issuer, plan.issuerKeys.kvn, ISD_AID), { serial: state.serial, kvn: plan.issuerKeys.kvn });
  } finally {
    wipeKeys(issuer);
  }
  const aid = toHex(JPKI_CARD_AID);
  try {
    const apps = await steps.run('GET STATUS applications', () => applicationStates(session));
    const jpki = apps.find((a) => a.aid === aid);
    if (jpki?.state === 'personalised') {
      steps.skip('all', { serial: state.serial });
      return { serial: state.serial, kvn: JPKI_INITIAL_KVN, alreadyInstalled: true };
    }
    if (jpki && jpki.state !== 'installed') throw cardStateError(`the JPKI area is ${jpki.state}`, { ...state, applications: apps });
    if (!jpki) {
      await steps.run('INSTALL JPKI area', async () => {
        const r = await session.command(0x80, 0xe6, 0x0c, 0x00, installData(JPKI_CARD_AID, JPKI_CARD_AID), 0);
        if (r.sw === 0x6985) {
          throw cardStateError('the card was made without the JPKI initial key set (its maker did not receive it from the jpki side): it cannot carry a JPKI area; nothing was changed', { ...state, applications: apps }, { sw: '6985', reason: 'no-jpki-initial-keys' });
        }
        if (r.sw !== 0x9000) throw cardStateError(`INSTALL [install and make selectable] of the JPKI area: the card answered ${r.sw.toString(16).toUpperCase().padStart(4, '0')}`, { ...state, applications: apps }, { sw: r.sw.toString(16).toUpperCase().padStart(4, '0') });
      });
    } else steps.skip('INSTALL JPKI area');
    await steps.run('INSTALL for personalization', () => session.expect('INSTALL [for personalization]', 0x80, 0xe6, 0x20, 0x00, concatBytes(Uint8Array.of(0, 0, JPKI_CARD_AID.length), JPKI_CARD_AID, Uint8Array.of(0, 0, 0)), 0));
    await steps.run('STORE DATA JPKI area (no data)', () => session.expect('STORE DATA (JPKI area)', 0x80, 0xe2, 0x80, 0x00));
    return { serial: state.serial, kvn: JPKI_INITIAL_KVN, alreadyInstalled: false };
  } finally {
    session.close();
  }
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
