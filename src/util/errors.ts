/**
 * The catalogue of juki's error codes. Every refusal anywhere in the system is a JukiError
 * carrying one of these codes; `docs/errors.md` documents each one, and a test checks that
 * the catalogue and the document list the same codes.
 *
 * Card-level refusals are ISO/IEC 7816-4 status words on the wire (see docs/card-protocol.md);
 * these codes are for everything a host, server or command line reports.
 */
export const ERROR_CODES = {
  // input validation (any interface)
  JUKI_ERR_INVALID_INPUT: 'A value given to an interface is malformed; the message names the field and what was expected.',
  JUKI_ERR_INVALID_RESIDENT_CODE: 'A resident code is not 11 digits, or fails the configured check-digit rule.',
  JUKI_ERR_INVALID_DATE: 'A date is not a real calendar date in YYYY-MM-DD form, or is out of the allowed range.',
  JUKI_ERR_INVALID_MUNICIPALITY: 'A municipality code is not a 6-digit local-government code with a valid check digit, or is not in the municipality list.',
  JUKI_ERR_INVALID_DB_URL: 'A database location is neither a SQLite file path nor a postgres:// URL, or the server cannot be reached.',
  JUKI_ERR_USAGE: 'A command line is malformed: unknown command or option, missing or extra argument.',
  // storage and register
  JUKI_ERR_NOT_FOUND: 'The record asked for does not exist.',
  JUKI_ERR_CONFLICT: 'The change conflicts with the current state (a duplicate key, or a concurrent change won).',
  JUKI_ERR_RESIDENT_NOT_FOUND: 'No resident with this resident code in this register.',
  JUKI_ERR_RESIDENT_EXISTS: 'A resident with this resident code is already registered.',
  JUKI_ERR_RESIDENT_NOT_REGISTERED: 'The resident is not currently registered here (moved out or deceased).',
  JUKI_ERR_INVALID_MOVE: 'A move does not fit the resident\'s current state (e.g. moving out a resident who is not registered).',
  // audit
  JUKI_ERR_AUDIT_BROKEN: 'The audit chain fails verification: an entry was edited, deleted or reordered.',
  JUKI_ERR_AUDIT_SECRET_FIELD: 'An audit entry was refused because its details hold a field named like a secret (PIN, password, key, token): the audit log never stores one.',
  // Juki-net (src/net, docs/network.md)
  JUKI_ERR_NET_DENIED: 'A Juki-net peer was refused: no valid certificate from the network CA, a bad envelope signature, a declared sender other than the certificate\'s node, or a message type and route its role may not use. Nothing was applied; the refusal is audited.',
  JUKI_ERR_NET_DELIVERY: 'A Juki-net message could not be delivered now (peer unreachable, no acknowledgement, receiver failed); the outbox keeps it and retries with backoff.',
  JUKI_ERR_NET_TOPOLOGY: 'A topology file is malformed or inconsistent: an unknown prefecture or municipality, a duplicate node, a municipality without its prefecture server, no national center; the message names the entry.',
  JUKI_ERR_NET_AFFAIR_DENIED: 'An identity-record request was refused by the access decision (R4.1): the requesting body is not a municipality, prefecture or agency, the affair is not in the catalogue for that body, or a municipality asked about a non-resident for an affair that does not allow it. Deny by default; every decision is audited at the answering node.',
  JUKI_ERR_AGENCY_CARD_NOTICED: 'The agency holds a suspension or abolition notice for this card, or the national center reports the card suspended, abolished or collected: the card is refused and no identity record is requested (R4.2.2).',
  JUKI_ERR_NET_CARD_READ_DENIED: 'The national center refused to read a card\'s basic area through a terminal\'s relay (R4.2.1): the requester is not an agency, or the affair is not in the catalogue for that agency. Deny by default; nothing is sent to the card; the decision is audited at the national center.',
  JUKI_ERR_NET_CARD_KEYS_DENIED: 'The national center refused a request for one card\'s basic-area keys: the requester is not a municipality (only a municipality\'s CS personalises cards). Deny by default; nothing was derived or sent; the decision is audited at the national center.',
  JUKI_ERR_JPKI_RELAY_DENIED: 'The jpki node refused a remote JPKI request (personalising a card\'s JPKI area through a CS\'s terminal, or revoking a card\'s certificates): the requester is not a municipality. Deny by default; nothing was started; the decision is audited at the jpki node.',
  JUKI_ERR_JPKI_RELAY_SESSION: 'A step of a remote JPKI personalisation was refused: no such session for this requester, it expired (idle too long), it reached its bound on steps or sessions, or no command awaits an answer. The session is ended; the card keeps only what it had already done.',
  JUKI_ERR_AGENCY_PIN_NOT_VERIFIED: 'Card verification at an agency stopped at its first step: the holder\'s PIN was not verified on the terminal\'s PIN pad (wrong, blocked, not set, cancelled), so nothing was read from the card (R4.2.1).',
  // files and keys
  JUKI_ERR_FILE: 'A file could not be read or written.',
  JUKI_ERR_INTERNAL: 'An unexpected fault inside juki; the details are in the operator log, never in the response.',
  JUKI_ERR_KEYSTORE: 'The key store refused or could not perform an operation.',
  JUKI_ERR_KEYSTORE_TAMPERED: 'A key-store file failed authentication (edited, truncated, swapped between names, or its key-encryption key changed); the key or counter is refused.',
  // secure channel (SCP03)
  JUKI_ERR_SCP_AUTHENTICATION: 'SCP03 mutual authentication failed: the card cryptogram is wrong (the card does not hold the expected keys), the card refused the host cryptogram, or its INITIALIZE UPDATE answer is malformed or cannot give the requested security level.',
  JUKI_ERR_SCP_INTEGRITY: 'A secure-channel response failed verification (wrong R-MAC, undecryptable R-ENC data, or data beside an error status word); the channel is closed.',
  JUKI_ERR_SCP_STATE: 'A secure-channel operation was called out of sequence (a command wrapped before EXTERNAL AUTHENTICATE or after the channel closed).',
  // card readers
  JUKI_ERR_READER: 'The reader or card could not be reached: no such reader, no card in it, the card was removed or did not answer, or the PC/SC service is not running or not installed.',
  JUKI_ERR_CARD_STATUS: 'The card answered a command with a status word other than the ones the host accepts; details carry the status word and the command header.',
  // the card component
  JUKI_ERR_CARD_TAMPERED: 'A card image failed verification (edited, truncated, an older copy restored, a PIN retry-counter record in the key store deleted or older than the image, or its sealing key destroyed); the sealing key is destroyed and the card is dead.',
  JUKI_ERR_CARD_UNPOWERED: 'A command was sent to a card that is not powered (power it on first), or to a card whose storage failed until it is powered again.',
  // card flows and the terminal agent (src/cs/card-flows, src/terminal)
  JUKI_ERR_CARD_STATE: 'The card is not in a state this card flow can start or resume from (wrong lifecycle, the maker\'s transport keys not yet replaced, keys this system does not hold, an unexpected application); details carry the state read with GET DATA and GET STATUS, so the blank card can be set aside or recorded as spoiled.',
  JUKI_ERR_CARD_INTERRUPTED: 'A card flow stopped between two commands (card removed, power cut, reader or relay gone); details name the step reached. Running the same flow again on the same card resumes it, or answers JUKI_ERR_CARD_STATE with what the card holds.',
  JUKI_ERR_KEY_UNWRAP: 'Wrapped per-card keys were refused: not for this request\'s key, this card serial or this key version, or altered in transit; nothing was unwrapped.',
  JUKI_ERR_PIN_PAD: 'The PIN pad could not take an entry: it is busy with another entry, was closed, or was asked for a length outside what the card accepts.',
  JUKI_ERR_TERMINAL_DENIED: 'The terminal agent refused a request: the caller\'s certificate is not the one it serves, the reader is not named on it, or a relayed command tried to carry a PIN (PINs come only from the PIN pad).',
  // municipality communication server: counter, stock, applications, issuance (src/cs, docs/counter.md)
  JUKI_ERR_CS_UNAUTHENTICATED: 'A counter request carries no staff session, or its session is unknown or expired: sign in again with the operator card.',
  JUKI_ERR_CS_FORBIDDEN: 'The signed-in staff member\'s role does not grant the permission this operation needs (deny by default, docs/counter.md); the refusal is audited.',
  JUKI_ERR_CS_LOGIN_FAILED: 'Operator-card sign-in refused: unknown or inactive staff member, unknown, used or expired challenge, or a signature that does not verify with the registered operator-card public key.',
  JUKI_ERR_CS_STOCK_STATE: 'A blank card is not in the stock state the operation needs (e.g. taking out a card that is not in the safe, or using one taken out for another terminal); details carry the serial and its state.',
  JUKI_ERR_CS_WITNESS: 'A spoiled card\'s destruction needs a witness: another active staff member whose role may witness; none, the actor themself, or an unknown one was named.',
  JUKI_ERR_CS_CARD_TRANSITION: 'A card status change is not allowed by the configured status machine from the card\'s current status, or for that cause (docs/counter.md).',
  JUKI_ERR_CS_NOT_REGISTERED: 'Card application refused (R3.1.2a/i/u): the applicant is not a registered resident of this municipality (unknown, moved out or deceased).',
  JUKI_ERR_CS_PRIOR_CARD_VALID: 'New issue refused (R3.1.2a): a card issued to the applicant before is neither abolished nor collected; apply for a reissue or renewal instead.',
  JUKI_ERR_CS_NO_CURRENT_CARD: 'Reissue or renewal refused: the applicant has no current card of this municipality to replace; apply for a new issue.',
  JUKI_ERR_CS_CARD_NOT_RETURNED: 'Reissue refused (R3.1.2i): the current card was neither returned (the returned card must be that card) nor declared lost or destroyed by fire.',
  JUKI_ERR_CS_CARD_NOT_PRESENTED: 'Renewal refused (R3.1.2u): the current card was not presented on the reader, or the card presented is not the applicant\'s current card.',
  JUKI_ERR_CS_NOT_WITHIN_VALIDITY: 'Renewal refused (R3.1.2u): the current card is not active within its validity (expired, suspended or awaiting its PIN); apply for a reissue or new issue.',
  JUKI_ERR_CS_PRIOR_CARD_UNAVAILABLE: 'Card application refused for now: the prior-card lookup (this municipality\'s records, the network) could not answer; nothing was decided, try again.',
  JUKI_ERR_CS_APPLICATION_STATE: 'The application is not in a state for this step (already issued or refused, or of another resident).',
  JUKI_ERR_CS_ISSUANCE_IN_PROGRESS: 'Another issuance holds this resident or this blank card (a second terminal, or one left by a crash until recovery); only one can go on.',
  JUKI_ERR_CS_CARD_STEP: 'The card step of an issuance (personalisation) failed; no card was recorded and the blank card is back at the terminal or spoiled, as details say.',
  JUKI_ERR_CS_WRONG_CARD: 'The card on the terminal\'s reader is not the one the operation names (another blank card, or not the holder\'s card); nothing on it was changed.',
  JUKI_ERR_CS_IDENTITY_CHECK: 'A PIN change or unblock needs a recorded identity verification for that card and purpose, unused, recent and at the same terminal (R3.2.2a, R3.2.2i); none such was given.',
  JUKI_ERR_CS_PIN_NOT_SET: 'The PIN pad step did not set the PIN (cancelled, the two entries differed, refused by the card, or already set); details.outcome says which. The card stays as it was: not active.',
  // JPKI certification authority
  JUKI_ERR_JPKI_PUBLIC_KEY: 'A public key given to the JPKI CA is refused: not a DER SubjectPublicKeyInfo, not RSA-2048 with public exponent 65537, or a private key was offered (the CA takes only the public key made on the card).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetails {
  /** The input field the error is about, e.g. `resident.birthDate`. */
  readonly field?: string;
  readonly [key: string]: unknown;
}

/** A refusal with a documented code and a message fit to show a person. */
export class JukiError extends Error {
  override readonly name = 'JukiError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Shorthand for a validation error on one field: `invalid('birthDate', 'expected YYYY-MM-DD, got "2020-13-01"')`. */
export function invalid(field: string, what: string, code: ErrorCode = 'JUKI_ERR_INVALID_INPUT'): JukiError {
  return new JukiError(code, `${field}: ${what}`, { field });
}

export function isJukiError(e: unknown, code?: ErrorCode): e is JukiError {
  return e instanceof JukiError && (code === undefined || e.code === code);
}
