/**
 * Issuing a staff member's operator card at the CS (R3.1.3ki, docs/counter.md "Staff"): a
 * re-keyed blank card from the stock, personalised with the operator application. The card
 * makes its own P-256 login key pair at personalisation (no private key leaves it); the staff
 * member then sets the operator PIN on the PIN pad; the administrator enrols the card's serial
 * and public key (`readOperatorCard`, once the PIN is set).
 *
 *   00 A4 04 0C 08 A000000151000000 ; 80 CA 00 45 / 9F 70 / 00 E0       serial, lifecycle, KVNs
 *   80 50 70 00 08 .. 00 ; 84 82 33 00 10 ..                            open with the municipality's transport keys
 *   84 E6 0C 00 .. install the operator AP ; 84 E6 20 00 .. for personalization
 *   84 E2 80 00 .. E(8F01 <operator key set> 0002 <staff id>)           STORE DATA (the card makes the key pair)
 *   84 D8 70 81 .. E(01 keys)                                            transport → issuer keys
 *   84 F0 80 07                                                          SET STATUS personalised
 *   then, plain: 00 A4 04 0C 0A D392F0004A554B490002 ; 00 B0 83 00 00    the public key (SFI 3)
 */
import { concatBytes, wipe } from '../crypto/index.ts';
import type { CardTransport } from '../reader/index.ts';
import { invalid, toHex } from '../util/index.ts';
import { putKeyData, wipeKeys, type CardKeySource } from './card-flows/index.ts';
import { cardStateError, readIsdFacts } from './card-flows/card-state.ts';
import { installData } from './card-flows/personalise.ts';
import { cardRefused, dgi, DGI_KEYSET, ISD_AID, OPERATOR_AID, plain, SecureSession, select } from './card-flows/wire.ts';


export interface OperatorCardPlan {
  readonly staffId: string;
  readonly transportKeys: CardKeySource;
  readonly issuerKeys: CardKeySource;
  /** The operator application's own key set (KVN 01..6F, not the issuer's). */
  readonly operatorKeys: CardKeySource;
}

export interface OperatorCard {
  /** The card serial, upper-case hex. */
  readonly serial: string;
  readonly staffId: string;
}

/** Personalise the re-keyed blank card behind `transport` as `staffId`'s operator card. */
export async function issueOperatorCard(transport: CardTransport, plan: OperatorCardPlan): Promise<OperatorCard> {
  if (typeof plan.staffId !== 'string' || !/^[\x21-\x7e]{1,32}$/.test(plan.staffId)) throw invalid('staffId', `expected 1 to 32 printable ASCII characters, got ${JSON.stringify(plan.staffId)}`);
  const { serial, state } = await readIsdFacts(transport);
  if (state.lifecycle !== 'blank' || state.keys !== 'transport' || state.keyVersions[0] !== plan.transportKeys.kvn) {
    throw cardStateError(`expected a blank card under the municipality's transport keys, it is ${state.lifecycle} with KVN ${state.keyVersions.join(', ')}`, state);
  }
  const t = plan.transportKeys.keysFor(serial);
  const issuer = plan.issuerKeys.keysFor(serial);
  const op = plan.operatorKeys.keysFor(serial);
  const session = await SecureSession.open(transport, t, plan.transportKeys.kvn, ISD_AID);
  try {
    await session.expect('INSTALL operator', 0x80, 0xe6, 0x0c, 0x00, installData(OPERATOR_AID, OPERATOR_AID), 0);
    await session.expect('INSTALL for personalization', 0x80, 0xe6, 0x20, 0x00, concatBytes(Uint8Array.of(0, 0, OPERATOR_AID.length), OPERATOR_AID, Uint8Array.of(0, 0, 0)), 0);
    const keyset = concatBytes(Uint8Array.of(op.kvn), op.enc, op.mac, op.dek);
    const data = concatBytes(dgi(DGI_KEYSET, keyset), dgi(0x0002, new Uint8Array(Buffer.from(plan.staffId, 'ascii'))));
    try {
      await session.expect('STORE DATA operator', 0x80, 0xe2, 0x80, 0x00, data);
    } finally {
      wipe(keyset);
      wipe(data);
    }
    await session.expect('PUT KEY issuer keys', 0x80, 0xd8, plan.transportKeys.kvn, 0x81, putKeyData(issuer, t.dek), 0);
    await session.expect('SET STATUS personalised', 0x80, 0xf0, 0x80, 0x07);
  } finally {
    session.close();
    wipeKeys(t);
    wipeKeys(issuer);
    wipeKeys(op);
  }
  return { serial: toHex(serial), staffId: plan.staffId };
}

/**
 * The operator card's public staff id and login key (readable once the operator PIN is set:
 * until then the application answers 69 85 to everything but PIN setting, R2.2.1a).
 *   00 A4 04 0C 0A D392F0004A554B490002 ; 00 B0 82 00 00 ; 00 B0 83 00 00
 */
export async function readOperatorCard(transport: CardTransport): Promise<{ staffId: string; publicKey: string }> {
  const sw = await select(transport, OPERATOR_AID);
  if (sw !== 0x9000) throw cardRefused('SELECT operator', sw);
  const read = async (sfi: number, what: string) => {
    const r = await plain(transport, { cla: 0x00, ins: 0xb0, p1: 0x80 | sfi, p2: 0x00, data: new Uint8Array(0), le: 0 });
    if (r.sw !== 0x9000) throw cardRefused(`READ BINARY ${what}`, r.sw);
    return r.data;
  };
  const staffId = Buffer.from(await read(2, 'staff id')).toString('ascii');
  return { staffId, publicKey: Buffer.from(await read(3, 'public key')).toString('base64') };
}
