/**
 * Operator login by operator card + PIN (R3.1.3ki): the server sends a fresh challenge, the
 * terminal has the card sign it after the operator's PIN on the pad (operatorSignWithPad in
 * src/terminal, or `agent.operatorLogin(reader, challenge)` remotely), and the server checks
 * the signature against the public key recorded for that staff member.
 */
import { randomBytes, verify as verifySignature, createPublicKey } from 'node:crypto';
import type { CardTransport } from '../../reader/index.ts';
import { operatorSignWithPad, type OperatorSignOutcome, type PinPad } from '../../terminal/index.ts';

/** A fresh 32-byte login challenge. */
export function newLoginChallenge(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** Local (in one process with the pad): SELECT the operator card, read its public staff id and key, VERIFY on the pad, INTERNAL AUTHENTICATE the challenge. */
export function operatorLogin(transport: CardTransport, pinPad: PinPad, challenge: Uint8Array): Promise<OperatorSignOutcome> {
  return operatorSignWithPad(transport, pinPad, challenge);
}

/** Whether `signature` (ECDSA-SHA256, DER) over `challenge` verifies under the operator's SPKI DER P-256 key. False for anything malformed. */
export function verifyOperatorSignature(publicKey: Uint8Array, challenge: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return false;
    return verifySignature('sha256', challenge, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}
