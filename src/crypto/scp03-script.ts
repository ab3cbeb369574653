/**
 * Pre-computed personalisation (ARCHITECTURE.md "Offline personalisation"): with a
 * pseudo-random card challenge (GP Amd D §6.2.2.1) the card's whole INITIALIZE UPDATE answer
 * is predictable from its static keys, its sequence counter and its AID, so the host can
 * compute the complete SCP03 session where the keys are, and a bureau that holds no key
 * replays it later. The script is bound to one counter value: once the card has answered
 * INITIALIZE UPDATE with that value its counter has moved on, so a script plays at most once.
 */
import { cardCryptogram, deriveSessionKeys, MAX_SEQUENCE_COUNTER, pseudoRandomCardChallenge } from './scp03-kdf.ts';
import { Scp03HostChannel } from './scp03-host.ts';
import type { Scp03StaticKeys } from './scp03-card.ts';
import { type CommandFields, encodeInitializeUpdateResponse, I_PARAM, SCP03_ID, type SecurityLevel } from './scp03-wire.ts';
import { equalBytes, wipe } from './bytes.ts';
import { invalid } from '../util/index.ts';

export interface Scp03ScriptOptions {
  /** The card's static keys (already diversified for this card). */
  readonly keys: Scp03StaticKeys;
  /** The card's key diversification data (10 bytes), as it will return it. */
  readonly diversificationData: Uint8Array;
  /** The sequence counter the card holds now (last used); the script uses the next value. */
  readonly sequenceCounter: number;
  /** The AID of the security domain that will answer INITIALIZE UPDATE (the challenge's context). */
  readonly context: Uint8Array;
  /** The card's i parameter (default 70). Must announce a pseudo-random challenge. */
  readonly i?: number;
  readonly level: SecurityLevel;
  /** The host challenge (8 bytes). Any value works; a fresh random one by default. */
  readonly hostChallenge?: Uint8Array;
  /** The plain commands to run inside the session, in order. */
  readonly commands: readonly CommandFields[];
}

/** A complete SCP03 session computed in advance: no key material inside. */
export interface Scp03Script {
  /** The card counter value the script is bound to (the card's stored counter + 1). */
  readonly sequenceCounter: number;
  readonly initializeUpdate: CommandFields;
  /** What the card must answer to INITIALIZE UPDATE (data without SW); anything else: stop, the script does not fit this card. */
  readonly expectedInitializeUpdateResponse: Uint8Array;
  readonly externalAuthenticate: CommandFields;
  /** The wrapped commands, in order. */
  readonly commands: readonly CommandFields[];
}

/** A recorded response: data (without SW) and SW. */
export interface ScriptResponse {
  readonly data: Uint8Array;
  readonly sw: number;
}

function openPredicted(options: Scp03ScriptOptions): { host: Scp03HostChannel; script: Omit<Scp03Script, 'commands'> } {
  const { keys, diversificationData, context, level } = options;
  const i = options.i ?? 0x70;
  if (!(i & I_PARAM.pseudoRandom)) throw invalid('i', `a pre-computed script needs a pseudo-random card challenge (i b5), got i ${i.toString(16).padStart(2, '0')}`);
  if (diversificationData.length !== 10) throw invalid('diversificationData', `expected 10 bytes, got ${diversificationData.length}`);
  if (!Number.isInteger(options.sequenceCounter) || options.sequenceCounter < 0 || options.sequenceCounter >= MAX_SEQUENCE_COUNTER) {
    throw invalid('sequenceCounter', `expected 0..${MAX_SEQUENCE_COUNTER - 1} (the card's current counter), got ${options.sequenceCounter}`);
  }
  const sequenceCounter = options.sequenceCounter + 1;
  const host = new Scp03HostChannel({ keys, level, ...(options.hostChallenge ? { hostChallenge: options.hostChallenge } : {}), cardContext: context });
  const initializeUpdate = host.initializeUpdateCommand(keys.kvn);
  // Predict the card's answer exactly as the card computes it (§6.2.2.1, §6.2.2.2).
  const cardChallenge = pseudoRandomCardChallenge(keys.enc, sequenceCounter, context);
  const session = deriveSessionKeys(keys.enc, keys.mac, host.hostChallenge, cardChallenge);
  const expectedInitializeUpdateResponse = encodeInitializeUpdateResponse({
    diversificationData, kvn: keys.kvn, scpId: SCP03_ID, i, cardChallenge,
    cardCryptogram: cardCryptogram(session.sMac, host.hostChallenge, cardChallenge), sequenceCounter,
  });
  wipe(session.sEnc, session.sMac, session.sRmac);
  const externalAuthenticate = host.onInitializeUpdateResponse(expectedInitializeUpdateResponse);
  return { host, script: { sequenceCounter, initializeUpdate, expectedInitializeUpdateResponse, externalAuthenticate } };
}

/**
 * Compute a whole SCP03 session for a card with a predictable (pseudo-random) challenge:
 * INITIALIZE UPDATE, the card's expected answer, EXTERNAL AUTHENTICATE and the wrapped
 * commands, without talking to the card.
 */
export function precomputeScript(options: Scp03ScriptOptions): Scp03Script {
  const { host, script } = openPredicted(options);
  const commands = options.commands.map((c) => host.wrapCommand(c));
  host.close();
  return { ...script, commands };
}

/** Whether the card's INITIALIZE UPDATE answer is the one the script was computed for. */
export function scriptFitsCard(script: Scp03Script, initializeUpdateResponse: Uint8Array): boolean {
  return equalBytes(script.expectedInitializeUpdateResponse, initializeUpdateResponse);
}

/**
 * Where the keys are, afterwards: verify and decrypt the responses a bureau recorded while
 * replaying a script (R-MAC, R-ENC), by recomputing the same session. `options` must be the
 * ones the script was made with, including its host challenge. Throws JUKI_ERR_SCP_INTEGRITY
 * at the first response that fails.
 */
export function openScriptResponses(options: Scp03ScriptOptions & { readonly hostChallenge: Uint8Array }, responses: readonly ScriptResponse[]): Uint8Array[] {
  if (responses.length > options.commands.length) throw invalid('responses', `expected at most ${options.commands.length} responses, got ${responses.length}`);
  const { host } = openPredicted(options);
  try {
    return responses.map((r, k) => {
      host.wrapCommand(options.commands[k]!);
      return host.unwrapResponse(r.data, r.sw);
    });
  } finally {
    host.close();
  }
}
