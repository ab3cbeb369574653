/**
 * PINs (R2.2.1): format rules, retry counters, and the sealed stored form. A PIN is never
 * stored, logged or output: the image holds HMAC-SHA256(card PIN key, scope ‖ ref ‖ PIN),
 * the comparison is constant-time, and the retry counter is decremented and persisted
 * *before* the comparison (R2.2.1e; reference/secure-channel.md §4.1) so that cutting power
 * once the result is known cannot win a free try.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SW } from './sw.ts';

export interface PinPolicy {
  /** Reference number: VERIFY P2 = 80 | ref (ISO 7816-4 §11.5.6, b8 = specific reference data). */
  readonly ref: number;
  readonly minLength: number;
  readonly maxLength: number;
  /** `digits`: ASCII 0-9; `upper-alnum`: ASCII A-Z 0-9 (the JPKI signing password). */
  readonly alphabet: 'digits' | 'upper-alnum';
  /** For `upper-alnum`: at least one letter and one digit (JPKI sign password rule). */
  readonly letterAndDigit?: boolean;
  readonly maxTries: number;
  /** What VERIFY answers once blocked: 6983 (ISO) or 6984 (the JPKI AP's habit). */
  readonly blockedSw: number;
}

/**
 * The persistent part of a PIN. `sealed` null means not set yet (R2.2.1a). `sealed` lives in
 * the card image; `tries` is persisted apart where the store can (SealedCardStore: a monotonic
 * counter per PIN in the host key store, one atomic write per change, storage.ts).
 */
export interface PinState {
  sealed: Uint8Array | null;
  tries: number;
}

/** A fresh, unset PIN with a full counter. */
export function unsetPin(policy: PinPolicy): PinState {
  return { sealed: null, tries: policy.maxTries };
}

/** Whether `pin` meets the policy's length and alphabet rules (checked when a PIN is set, never when verified). */
export function pinFormatOk(policy: PinPolicy, pin: Uint8Array): boolean {
  if (pin.length < policy.minLength || pin.length > policy.maxLength) return false;
  let letters = 0;
  let digits = 0;
  for (const c of pin) {
    if (c >= 0x30 && c <= 0x39) digits++;
    else if (policy.alphabet === 'upper-alnum' && c >= 0x41 && c <= 0x5a) letters++;
    else return false;
  }
  return !policy.letterAndDigit || (letters > 0 && digits > 0);
}

/** The sealed form: HMAC-SHA256(key, len(scope) ‖ scope ‖ ref ‖ pin). Bound to the application and reference so equal PINs seal differently. */
export function sealPin(key: Uint8Array, scope: Uint8Array, ref: number, pin: Uint8Array): Uint8Array {
  const h = createHmac('sha256', key);
  h.update(Uint8Array.of(scope.length, ...scope, ref));
  h.update(pin);
  return new Uint8Array(h.digest());
}

export type PinResult = { readonly ok: true } | { readonly ok: false; readonly sw: number };

/**
 * VERIFY against a stored PIN.
 *   unset → 6984; blocked → policy.blockedSw; else decrement + persist, compare, and
 *   on a match restore the counter (+ persist) → ok; on a mismatch → 63 Cx (x = tries left).
 * `persist` must make the state durable before returning (one atomic write).
 */
export function verifyPin(state: PinState, policy: PinPolicy, candidate: Uint8Array, key: Uint8Array, scope: Uint8Array, persist: () => void): PinResult {
  if (state.sealed === null) return { ok: false, sw: SW.REF_DATA_NOT_USABLE };
  if (state.tries <= 0) return { ok: false, sw: policy.blockedSw };
  // R2.2.1e: the decrement is durable before the comparison happens.
  state.tries -= 1;
  persist();
  const mac = sealPin(key, scope, policy.ref, candidate);
  const match = timingSafeEqual(mac, state.sealed);
  mac.fill(0);
  if (match) {
    state.tries = policy.maxTries;
    persist();
    return { ok: true };
  }
  return { ok: false, sw: SW.PIN_TRIES | Math.min(state.tries, 15) };
}

/** The answer to a status query (VERIFY with no data): 63 Cx always, as the JPKI AP does (reference §5.1); 6984 while unset. */
export function pinStatusSw(state: PinState): number {
  if (state.sealed === null) return SW.REF_DATA_NOT_USABLE;
  return SW.PIN_TRIES | Math.min(Math.max(state.tries, 0), 15);
}

/** Store a new PIN value with a full counter. The caller checks format and authority first. */
export function setPin(state: PinState, policy: PinPolicy, pin: Uint8Array, key: Uint8Array, scope: Uint8Array): void {
  state.sealed = sealPin(key, scope, policy.ref, pin);
  state.tries = policy.maxTries;
}
