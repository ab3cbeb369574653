/**
 * A bare card for transport tests and the baseline benchmark: one application that echoes
 * what it is sent, so a round trip measures the path and not the card. It answers what it
 * does not know with proper ISO/IEC 7816-4 errors, because a card that says 9000 to
 * everything is taken for a "MuscleApplet" by OpenSC's driver probes.
 */
import type { CardDevice } from '../card/index.ts';
import { JukiError } from '../util/index.ts';

/** The echo application's AID: F0 (proprietary RID range) ‖ "JUKIECHO". */
export const ECHO_AID = Uint8Array.of(0xf0, 0x4a, 0x55, 0x4b, 0x49, 0x45, 0x43, 0x48, 0x4f);

/**
 * The echo card's ATR, `3B 80 80 01 01`: TS=3B (direct convention), T0=80 (TD1 follows, no
 * historical bytes), TD1=80 (TD2 follows, T=0 listed), TD2=01 (T=1, which vpcd always
 * reports), TCK=01 (XOR of T0..TD2).
 */
export const ECHO_ATR = Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01);

/** The echo command's class and instruction: `80 EE P1 00 Lc data [Le]`. */
export const ECHO_CLA = 0x80;
export const ECHO_INS = 0xee;
/** P1 of ECHO: answer `data ‖ 9000` at once. */
export const ECHO_PLAIN = 0x00;
/** P1 of ECHO: answer `61xx` and hand the data out through GET RESPONSE, as a T=0 card would. */
export const ECHO_VIA_GET_RESPONSE = 0x01;
/** P1 of ECHO: answer `6Cxx` unless Le equals the data length, as a T=0 card would. */
export const ECHO_EXACT_LE = 0x02;

interface Command {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  /** Expected response length; undefined when the command has no Le field (0 means the maximum). */
  readonly le: number | undefined;
}

const sw = (value: number): Uint8Array => Uint8Array.of(value >> 8, value & 0xff);

/** A minimal CardDevice: SELECT of ECHO_AID, then ECHO; everything else is refused. */
export class EchoCard implements CardDevice {
  #powered = false;
  #selected = false;
  /** Data waiting for GET RESPONSE. */
  #pending: Uint8Array | undefined;
  /** How many APDUs the card answered since it was made (a check on the path, not a timer). */
  commands = 0;

  get powered(): boolean {
    return this.#powered;
  }

  get atr(): Uint8Array {
    return ECHO_ATR.slice();
  }

  powerOn(): Uint8Array {
    this.#clear();
    this.#powered = true;
    return this.atr;
  }

  powerOff(): void {
    this.#clear();
    this.#powered = false;
  }

  reset(): Uint8Array {
    this.powerOff();
    return this.powerOn();
  }

  transmit(bytes: Uint8Array): Uint8Array {
    if (!this.#powered) throw new JukiError('JUKI_ERR_CARD_UNPOWERED', 'the echo card is not powered');
    this.commands++;
    const command = parse(bytes);
    if (!command) return sw(0x6700);
    const pending = this.#pending;
    this.#pending = undefined;
    // GET RESPONSE is interindustry (CLA 0x, channel bits only); ECHO is proprietary (80).
    if (command.cla === 0x00 && command.ins === 0xa4) return this.#select(command);
    if (command.cla === 0x00 && command.ins === 0xc0) return this.#getResponse(command, pending);
    if (command.cla === ECHO_CLA && command.ins === ECHO_INS && this.#selected) return this.#echo(command);
    if (command.cla !== 0x00 && command.cla !== ECHO_CLA) return sw(0x6e00);
    return sw(0x6d00);
  }

  #clear(): void {
    this.#selected = false;
    this.#pending = undefined;
  }

  #select(c: Command): Uint8Array {
    if (c.p1 !== 0x04 || (c.p2 & ~0x0c) !== 0x00) return sw(0x6a86);
    this.#selected = equal(c.data, ECHO_AID);
    return this.#selected ? sw(0x9000) : sw(0x6a82);
  }

  #echo(c: Command): Uint8Array {
    if (c.p2 !== 0x00) return sw(0x6a86);
    switch (c.p1) {
      case ECHO_PLAIN:
        return withSw(c.data, 0x9000);
      case ECHO_VIA_GET_RESPONSE:
        if (c.data.length === 0) return sw(0x9000);
        this.#pending = c.data;
        return sw(moreData(c.data.length));
      case ECHO_EXACT_LE: {
        if (c.data.length > 256) return sw(0x6700);
        const wanted = c.le === 0 ? 256 : c.le;
        if (wanted !== c.data.length) return sw(0x6c00 | (c.data.length & 0xff));
        return withSw(c.data, 0x9000);
      }
      default:
        return sw(0x6a86);
    }
  }

  /** Hand out up to Le bytes of the pending data; 61xx says how much is left (00 = 256 or more). */
  #getResponse(c: Command, pending: Uint8Array | undefined): Uint8Array {
    if (!pending) return sw(0x6985);
    if (c.p1 !== 0 || c.p2 !== 0) return sw(0x6a86);
    const le = c.le === undefined || c.le === 0 ? 256 : c.le;
    const part = pending.subarray(0, le);
    const rest = pending.subarray(part.length);
    if (rest.length === 0) return withSw(part, 0x9000);
    this.#pending = rest;
    return withSw(part, moreData(rest.length));
  }
}

/** Cut a command APDU per ISO/IEC 7816-3 §12.1.3 (short and extended); undefined if malformed. */
function parse(c: Uint8Array): Command | undefined {
  if (c.length < 4) return undefined;
  const head = { cla: c[0]!, ins: c[1]!, p1: c[2]!, p2: c[3]! };
  const n = c.length - 4;
  const none = new Uint8Array(0);
  if (n === 0) return { ...head, data: none, le: undefined };
  if (n === 1) return { ...head, data: none, le: c[4]! };
  if (c[4] !== 0) {
    const lc = c[4]!;
    if (n === 1 + lc) return { ...head, data: c.slice(5, 5 + lc), le: undefined };
    if (n === 2 + lc) return { ...head, data: c.slice(5, 5 + lc), le: c[5 + lc]! };
    return undefined;
  }
  if (n === 3) return { ...head, data: none, le: (c[5]! << 8) | c[6]! };
  const lc = (c[5]! << 8) | c[6]!;
  if (lc === 0) return undefined;
  if (n === 3 + lc) return { ...head, data: c.slice(7, 7 + lc), le: undefined };
  if (n === 5 + lc) return { ...head, data: c.slice(7, 7 + lc), le: (c[7 + lc]! << 8) | c[8 + lc]! };
  return undefined;
}

/** `61xx`: xx bytes are waiting, 00 meaning 256 or more. */
function moreData(waiting: number): number {
  return 0x6100 | (waiting >= 256 ? 0 : waiting);
}

function withSw(data: Uint8Array, status: number): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data);
  out[data.length] = status >> 8;
  out[data.length + 1] = status & 0xff;
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
