/**
 * The host side of every card conversation. Host flows (issuance, PIN services, agency
 * verification) talk to a card only through a CardTransport, so the same flow runs against
 * an in-process card, a card behind a network relay, or a card in a real PC/SC reader.
 */
import { JukiError, toHex } from '../util/index.ts';

/** A live session with one card: APDUs in, responses (data ‖ SW1 SW2) out. */
export interface CardTransport {
  /** The answer-to-reset the card gave when the session opened. */
  readonly atr: Uint8Array;
  /**
   * One command APDU, one raw response (data ‖ SW1 SW2), exactly as the card gave it: no
   * GET RESPONSE or Le correction (use `send` for that). Rejects with JUKI_ERR_READER when
   * the card is gone or the session is closed.
   */
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
  /** End the session. Idempotent. */
  close(): Promise<void>;
}

/** A slot that may hold a card: an in-process virtual reader or a PC/SC reader. */
export interface CardReader {
  readonly name: string;
  /** Whether a card is in the slot now. */
  cardPresent(): Promise<boolean>;
  /** Resolves when a card is present (at once if one is); rejects with JUKI_ERR_READER after `timeoutMs`. */
  waitForCard(timeoutMs: number): Promise<void>;
  /** Open a session with the card in the slot; rejects with JUKI_ERR_READER when the slot is empty. */
  connect(): Promise<CardTransport>;
}

/** The status word of a response: its last two bytes as one number, e.g. 0x9000. */
export function statusWord(response: Uint8Array): number {
  if (response.length < 2) throw new JukiError('JUKI_ERR_READER', `response of ${response.length} bytes has no status word`);
  return (response[response.length - 2]! << 8) | response[response.length - 1]!;
}

/** The data part of a response: everything before SW1 SW2. */
export function responseData(response: Uint8Array): Uint8Array {
  return response.subarray(0, Math.max(0, response.length - 2));
}

/** How many extra round trips `send` allows before it decides the card is looping. */
const MAX_GET_RESPONSE_ROUNDS = 1024;

/**
 * Send one command and return the complete response (data ‖ SW1 SW2), whatever the transport:
 * - `61xx` (more data): sends GET RESPONSE `CLA C0 00 00 xx` until the card stops answering
 *   61xx, concatenating the data of every part.
 * - `6Cxx` (wrong Le, the right one is xx): re-sends the same command once with Le = xx.
 * The status word returned is the last one the card gave.
 */
export async function send(transport: CardTransport, command: Uint8Array): Promise<Uint8Array> {
  let response = await transport.transmit(command);
  let sw = statusWord(response);
  if (sw >> 8 === 0x6c) {
    response = await transport.transmit(withLe(command, sw & 0xff));
    sw = statusWord(response);
  }
  if (sw >> 8 !== 0x61) return response;

  const parts: Uint8Array[] = [responseData(response)];
  const cla = getResponseCla(command[0]!);
  for (let round = 0; sw >> 8 === 0x61; round++) {
    if (round >= MAX_GET_RESPONSE_ROUNDS) {
      throw new JukiError('JUKI_ERR_READER', `card kept answering 61xx after ${MAX_GET_RESPONSE_ROUNDS} GET RESPONSE commands`);
    }
    let getResponse = Uint8Array.of(cla, 0xc0, 0x00, 0x00, sw & 0xff);
    response = await transport.transmit(getResponse);
    sw = statusWord(response);
    if (sw >> 8 === 0x6c) {
      // The card wants a different Le for this part: ask again once with the length it named.
      getResponse = Uint8Array.of(cla, 0xc0, 0x00, 0x00, sw & 0xff);
      response = await transport.transmit(getResponse);
      sw = statusWord(response);
    }
    parts.push(responseData(response));
  }
  return concat([...parts, Uint8Array.of(sw >> 8, sw & 0xff)]);
}

/**
 * `send`, then require a status word in `accept` (default 9000); returns the data without
 * the status word. Any other status word is a JukiError JUKI_ERR_CARD_STATUS whose details
 * carry `sw` (4 hex digits) and the command header.
 */
export async function transmitChecked(
  transport: CardTransport,
  command: Uint8Array,
  accept: readonly number[] = [0x9000],
): Promise<Uint8Array> {
  const response = await send(transport, command);
  const sw = statusWord(response);
  if (!accept.includes(sw)) {
    const swHex = sw.toString(16).toUpperCase().padStart(4, '0');
    const header = toHex(command.subarray(0, 4));
    throw new JukiError('JUKI_ERR_CARD_STATUS', `card answered ${swHex} to command ${header}`, { sw: swHex, command: header });
  }
  return responseData(response);
}

/**
 * The class byte for GET RESPONSE after a command sent with `cla`: the interindustry class
 * with the same logical channel (GET RESPONSE is never secure-messaged nor proprietary).
 * Channels 0-3 live in bits 1-2 of `0x0X`/`0x8X`; channels 4-19 use the `0x4X` form.
 */
export function getResponseCla(cla: number): number {
  return cla & 0x40 ? 0x40 | (cla & 0x0f) : cla & 0x03;
}

/**
 * The same command with its Le replaced by `le` (0 meaning 256), in short form. Handles
 * ISO/IEC 7816-3 cases 1-4 in short form; an extended command keeps its form with a
 * 2-byte Le. Throws JUKI_ERR_INVALID_INPUT for bytes that are no APDU.
 */
export function withLe(command: Uint8Array, le: number): Uint8Array {
  const shape = apduShape(command);
  const body = command.subarray(0, shape.bodyEnd);
  if (!shape.extended) return concat([body, Uint8Array.of(le & 0xff)]);
  // Extended: a case 2 command needs the 00 marker before its 2-byte Le; case 4 already has it.
  const marker = shape.bodyEnd === 4 ? Uint8Array.of(0x00) : new Uint8Array(0);
  return concat([body, marker, Uint8Array.of(0x00, le & 0xff)]);
}

interface ApduShape {
  /** Where header + Lc + data end (the Le field, if any, follows). */
  readonly bodyEnd: number;
  readonly extended: boolean;
}

/** Cut a command APDU into header/Lc/data and Le per ISO/IEC 7816-3 §12.1.3. */
function apduShape(c: Uint8Array): ApduShape {
  const bad = (what: string) => new JukiError('JUKI_ERR_INVALID_INPUT', `command APDU ${toHex(c)}: ${what}`, { field: 'apdu' });
  if (c.length < 4) throw bad('shorter than a 4-byte header');
  const n = c.length - 4;
  if (n === 0) return { bodyEnd: 4, extended: false }; // case 1
  if (n === 1) return { bodyEnd: 4, extended: false }; // case 2 short
  const b1 = c[4]!;
  if (b1 !== 0) {
    if (n === 1 + b1) return { bodyEnd: c.length, extended: false }; // case 3 short
    if (n === 2 + b1) return { bodyEnd: c.length - 1, extended: false }; // case 4 short
    throw bad('Lc does not match the data length');
  }
  if (n === 3) return { bodyEnd: 4, extended: true }; // case 2 extended
  const lc = (c[5]! << 8) | c[6]!;
  if (lc === 0) throw bad('extended Lc of zero');
  if (n === 3 + lc) return { bodyEnd: c.length, extended: true }; // case 3 extended
  if (n === 5 + lc) return { bodyEnd: c.length - 2, extended: true }; // case 4 extended
  throw bad('extended Lc does not match the data length');
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
