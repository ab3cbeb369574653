/**
 * The counter's one step in a card's JPKI area (R5.1): the issuer security domain installs the
 * JPKI AP and gives it its own security domain's key set, which only the `jpki` role derives
 * (`jpkiDomainKeys`, from the JPKI masters in the jpki node's key store, for this card's
 * serial). The key set crosses the relay only inside the ISD's encrypted STORE DATA, as the
 * basic area's keys do; after this the CS can do nothing in the area (it accepts no issuer
 * channel), and the jpki role personalises it over its own channel (`personaliseJpkiCard`).
 *
 *   00 A4 04 0C 08 A000000151000000 ; 80 CA 00 45 / 9F 70 / 00 E0            serial, lifecycle, KVNs
 *   80 50 01 00 08 .. 00 ; 84 82 33 00 10 ..                                open with the issuer keys
 *   84 F2 40 02 .. 4F 00 ..                                                 is the JPKI AP there already?
 *   84 E6 0C 00 Lc E(00 0A <JPKI AID> 0A <JPKI AID> 01 00 02 C900 00) .. 00  INSTALL [install and make selectable]
 *   84 E6 20 00 Lc E(00 00 0A <JPKI AID> 00 00 00) .. 00                      INSTALL [for personalization]
 *   84 E2 80 00 Lc E(8F01 <KVN 50 ‖ K-ENC ‖ K-MAC ‖ K-DEK>) <C-MAC>           STORE DATA, the domain's key set
 *
 * Restartable: an AP already personalised is left alone (`alreadyInstalled`); one installed
 * but not personalised is personalised.
 */
import { concatBytes, wipe, type Scp03StaticKeys } from '../../crypto/index.ts';
import { JPKI_CARD_AID, JPKI_CARD_KVN } from '../../jpki/index.ts';
import type { CardTransport } from '../../reader/index.ts';
import { JukiError, toHex } from '../../util/index.ts';
import { wipeKeys, type CardKeySource } from './card-keys.ts';
import { applicationStates, cardStateError, readIsdFacts } from './card-state.ts';
import { installData } from './personalise.ts';
import { FlowSteps, type CardFlowObserver } from './steps.ts';
import { dgi, DGI_KEYSET, ISD_AID, SecureSession } from './wire.ts';

export interface JpkiAreaPlan {
  /** The municipality's issuer keys (the card must be personalised: transport keys replaced). */
  readonly issuerKeys: CardKeySource;
  /** The JPKI domain's key set for the card with this serial, from the jpki role (`jpkiDomainKeys`). The flow wipes it. */
  readonly jpkiDomainKeys: (serial: Uint8Array) => Scp03StaticKeys | Promise<Scp03StaticKeys>;
  readonly observer?: CardFlowObserver;
}

export interface JpkiAreaResult {
  readonly serial: string;
  /** The KVN of the JPKI domain's key set on the card. */
  readonly kvn: number;
  /** The AP was already installed and personalised: nothing was changed. */
  readonly alreadyInstalled: boolean;
}

/** Install the JPKI AP on the card behind `transport` (which may be a relay) and give it the JPKI domain's keys. */
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
      return { serial: state.serial, kvn: JPKI_CARD_KVN, alreadyInstalled: true };
    }
    if (jpki && jpki.state !== 'installed') throw cardStateError(`the JPKI area is ${jpki.state}`, { ...state, applications: apps });
    if (!jpki) await steps.run('INSTALL JPKI area', () => session.expect('INSTALL [install and make selectable]', 0x80, 0xe6, 0x0c, 0x00, installData(JPKI_CARD_AID, JPKI_CARD_AID), 0));
    else steps.skip('INSTALL JPKI area');
    await steps.run('INSTALL for personalization', () => session.expect('INSTALL [for personalization]', 0x80, 0xe6, 0x20, 0x00, concatBytes(Uint8Array.of(0, 0, JPKI_CARD_AID.length), JPKI_CARD_AID, Uint8Array.of(0, 0, 0)), 0));
    const keys = await steps.run('JPKI domain keys from the jpki role', async () => plan.jpkiDomainKeys(serial), { kvn: JPKI_CARD_KVN });
    if (keys.kvn !== JPKI_CARD_KVN) {
      wipeKeys(keys);
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `jpkiDomainKeys: expected the JPKI domain's KVN ${hex2(JPKI_CARD_KVN)}, got ${hex2(keys.kvn)}`, { field: 'jpkiDomainKeys' });
    }
    const keyset = concatBytes(Uint8Array.of(keys.kvn), keys.enc, keys.mac, keys.dek);
    const data = dgi(DGI_KEYSET, keyset);
    try {
      await steps.run('STORE DATA JPKI domain keys', () => session.expect('STORE DATA (JPKI domain keys)', 0x80, 0xe2, 0x80, 0x00, data));
    } finally {
      wipe(keyset);
      wipe(data);
      wipeKeys(keys);
    }
    return { serial: state.serial, kvn: JPKI_CARD_KVN, alreadyInstalled: false };
  } finally {
    session.close();
  }
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
