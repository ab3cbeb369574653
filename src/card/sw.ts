/**
 * ISO/IEC 7816-4 status words (§5.1.3, table 5-6) and the GlobalPlatform ones the card
 * answers. Every refusal the card gives is one of these; docs/card-protocol.md lists when.
 */
export const SW = {
  OK: 0x9000,
  /** 61xx: xx more bytes wait for GET RESPONSE (ISO 7816-4 §5.3.4). */
  BYTES_REMAINING: 0x6100,
  /** 62 82: end of file reached before Le bytes were read. */
  END_OF_FILE: 0x6282,
  /** 63 00: GP Amd D §7.1.2.2, host cryptogram does not verify. */
  AUTH_FAILED: 0x6300,
  /** 63 Cx: wrong PIN, x tries left (ISO 7816-4 §11.5.6). */
  PIN_TRIES: 0x63c0,
  /** 65 81: memory failure (a persistent write did not complete). */
  MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  /** 68 81: logical channel not supported (ISO 7816-4 §5.1.1.2). */
  CHANNEL_NOT_SUPPORTED: 0x6881,
  /** 68 82: secure messaging not supported (the ISO SM formats; GP SM is CLA b3). */
  SM_NOT_SUPPORTED: 0x6882,
  /** 68 84: command chaining not supported. */
  CHAINING_NOT_SUPPORTED: 0x6884,
  /** 69 81: command incompatible with file structure. */
  INCOMPATIBLE_FILE: 0x6981,
  SECURITY_NOT_SATISFIED: 0x6982,
  /** 69 83: authentication method blocked (PIN retry counter at zero). */
  AUTH_METHOD_BLOCKED: 0x6983,
  /** 69 84: reference data not usable (PIN not set yet, or blocked in the JPKI profile). */
  REF_DATA_NOT_USABLE: 0x6984,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  /** 69 86: command not allowed (no current EF). */
  NO_CURRENT_EF: 0x6986,
  /** 69 88: incorrect secure-messaging data objects (a MAC that does not verify). */
  SM_DATA_INCORRECT: 0x6988,
  INCORRECT_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  NOT_ENOUGH_MEMORY: 0x6a84,
  INCORRECT_P1P2: 0x6a86,
  REF_DATA_NOT_FOUND: 0x6a88,
  /** 6B 00: offset at or beyond the end of the file (JICSAP; ISO "wrong parameters P1-P2"). */
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  /** 6F 00: an internal error; never carries detail (no secret may leak through it). */
  UNKNOWN: 0x6f00,
} as const;

const MEANING: Record<number, string> = {
  0x9000: 'ok',
  0x6282: 'end of file',
  0x6300: 'authentication failed',
  0x6581: 'memory failure',
  0x6700: 'wrong length',
  0x6881: 'logical channel not supported',
  0x6882: 'secure messaging not supported',
  0x6884: 'command chaining not supported',
  0x6981: 'command incompatible with file structure',
  0x6982: 'security status not satisfied',
  0x6983: 'authentication method blocked',
  0x6984: 'reference data not usable',
  0x6985: 'conditions of use not satisfied',
  0x6986: 'command not allowed (no current EF)',
  0x6988: 'incorrect secure messaging data objects',
  0x6a80: 'incorrect data',
  0x6a81: 'function not supported',
  0x6a82: 'file or application not found',
  0x6a84: 'not enough memory',
  0x6a86: 'incorrect P1-P2',
  0x6a88: 'referenced data not found',
  0x6b00: 'wrong parameters (offset beyond end of file)',
  0x6d00: 'instruction not supported',
  0x6e00: 'class not supported',
  0x6f00: 'no precise diagnosis',
};

/** A one-line meaning for a trace: `63C2 wrong PIN, 2 tries left`. */
export function describeSw(sw: number): string {
  if ((sw & 0xff00) === 0x6100) return `${(sw & 0xff) || 256}+ bytes remaining`;
  if ((sw & 0xfff0) === 0x63c0) return `wrong PIN, ${sw & 0x0f} tries left`;
  return MEANING[sw] ?? 'unknown status';
}

/** Whether a status word is success or a warning (ISO 7816-4 §5.1.3: 9000, 61xx, 62xx, 63xx). */
export function isSuccessOrWarning(sw: number): boolean {
  const sw1 = sw >> 8;
  return sw === 0x9000 || sw1 === 0x61 || sw1 === 0x62 || sw1 === 0x63;
}

/**
 * A refusal inside the card, carrying the status word to answer. Card code throws it;
 * the dispatcher turns it into the response and never lets anything else escape.
 */
export class IsoError extends Error {
  override readonly name = 'IsoError';
  constructor(readonly sw: number) {
    super(`${sw.toString(16).toUpperCase().padStart(4, '0')} ${describeSw(sw)}`);
  }
}

/** Throw the status word `sw` (sugar for handlers: `if (!ok) refuse(SW.WRONG_LENGTH)`). */
export function refuse(sw: number): never {
  throw new IsoError(sw);
}
