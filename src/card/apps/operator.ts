/**
 * The operator card application: staff identity for counter terminals and card bureaus
 * (R3.1.3ki: operator login by operator card + PIN). The staff id and public key are public;
 * an ECDSA P-256 key generated on the card at personalisation signs a login challenge with
 * INTERNAL AUTHENTICATE after PIN verification. The private key has no read path.
 *
 * AID D3 92 F0 00 4A 55 4B 49 00 02.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { always, issuer, never, pin } from '../access.ts';
import { allows } from '../access.ts';
import type { ApplicationType, Handler } from '../application.ts';
import { FileTable } from '../files.ts';
import { SW, refuse } from '../sw.ts';

export const OPERATOR_AID = Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x4a, 0x55, 0x4b, 0x49, 0x00, 0x02);

export const OPERATOR_FID = { pin: 0x0001, staffId: 0x0002, publicKey: 0x0003, privateKey: 0x0004 } as const;
export const OPERATOR_PIN_REF = 1;
/** INTERNAL AUTHENTICATE P2 = 80 | 04. */
export const OPERATOR_KEY_REF = 4;

export const OPERATOR_FILES = new FileTable([
  {
    kind: 'pin',
    fid: OPERATOR_FID.pin,
    name: 'operator PIN',
    policy: { ref: OPERATOR_PIN_REF, minLength: 4, maxLength: 8, alphabet: 'digits', maxTries: 3, blockedSw: SW.AUTH_METHOD_BLOCKED },
    unblock: issuer(),
  },
  { kind: 'binary', fid: OPERATOR_FID.staffId, sfi: 2, name: 'staff id (printable ASCII)', size: 32, read: always, update: never },
  { kind: 'binary', fid: OPERATOR_FID.publicKey, sfi: 3, name: 'login public key (SPKI DER, P-256)', size: 128, read: always, update: never },
  { kind: 'key', fid: OPERATOR_FID.privateKey, ref: OPERATOR_KEY_REF, name: 'login private key (P-256)', use: pin(OPERATOR_PIN_REF) },
]);

/**
 * INTERNAL AUTHENTICATE (ISO 7816-4 §11.5.2): sign the host's login challenge.
 *   C: 00 88 00 84 Lc <challenge 8..64> 00   R: <ECDSA-SHA256 signature, DER> 90 00 | 69 82 (PIN not verified) | 6A 88 | 67 00
 */
const internalAuthenticate: Handler = (cmd, ctx) => {
  if (cmd.cla & 0x80) refuse(SW.CLA_NOT_SUPPORTED);
  if (cmd.p1 !== 0x00 || (cmd.p2 !== 0x00 && cmd.p2 !== (0x80 | OPERATOR_KEY_REF))) refuse(SW.INCORRECT_P1P2);
  if (cmd.data.length < 8 || cmd.data.length > 64 || cmd.ne === undefined) refuse(SW.WRONG_LENGTH);
  const def = ctx.type.files.key(OPERATOR_KEY_REF)!;
  if (!allows(def.use, ctx.view, 'use')) refuse(SW.SECURITY_NOT_SATISFIED);
  const der = ctx.record.keys[OPERATOR_KEY_REF];
  if (!der) refuse(SW.REF_DATA_NOT_FOUND);
  const key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  return { data: new Uint8Array(sign('sha256', cmd.data, { key, dsaEncoding: 'der' })), sw: SW.OK };
};

export const operatorCard: ApplicationType = {
  name: 'operator',
  module: OPERATOR_AID,
  defaultAid: OPERATOR_AID,
  singleton: true,
  // A staff member's operator card holds only this application: it personalises the card (SET STATUS) and its PIN activates it.
  activatesCard: true,
  files: OPERATOR_FILES,
  acceptsIssuerChannel: true,
  pinsRequiredFirst: [OPERATOR_PIN_REF],
  requiredFiles: [OPERATOR_FID.staffId],
  validateFile(fid, d) {
    if (fid === OPERATOR_FID.staffId) return d.length >= 1 && d.every((c) => c > 0x20 && c <= 0x7e);
    return true;
  },
  commands: new Map([[0x88, internalAuthenticate]]),
  commandConditions: { 'INTERNAL AUTHENTICATE': pin(OPERATOR_PIN_REF) },
  personalise(dgis) {
    if (dgis.length) refuse(SW.INCORRECT_DATA);
    // The key pair is made on the card; only the public half is ever written to a readable file.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pkcs8 = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
    const spki = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
    return { files: { [OPERATOR_FID.publicKey]: spki }, keys: { [OPERATOR_KEY_REF]: pkcs8 } };
  },
};
