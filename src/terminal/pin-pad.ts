/**
 * The PIN pad (R3.1.2ki): a separate device wired to the terminal agent, like the keypad of
 * a PIN-pad reader. What the holder types becomes a `PinEntry`, an opaque value whose digits
 * no code outside this module can read: it has no accessor, prints as `PinEntry(4 digits)`,
 * serialises as `"[PIN]"`, and is spent (zeroised) by the one command that carries it to the
 * card (`transmitPinCommand`). A confirmation entry is compared here, inside the pad module,
 * and never returned.
 */
import { timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { concatBytes } from '../crypto/index.ts';
import { send, statusWord, type CardTransport } from '../reader/index.ts';
import { invalid, JukiError } from '../util/index.ts';

/** What the pad is asked for. */
export interface PinRequest {
  /** What the pad's display shows, e.g. "Set your card PIN (4 digits)". */
  readonly prompt: string;
  readonly minLength: number;
  readonly maxLength: number;
  /** Ask twice and compare (first setting, change): the pad answers `mismatch` when they differ. */
  readonly confirm?: boolean;
  /** The keys the pad takes: digits (default), or A–Z and 0–9 (the JPKI signature password). */
  readonly characters?: PinCharacters;
}

/** What a PIN may be made of: `digits`, or `A-Z0-9` (upper-case letters and digits). */
export type PinCharacters = 'digits' | 'A-Z0-9';

/** The pad's answer: an entry, the two entries differed, or the person pressed cancel. Never the digits. */
export type PinPadResult =
  | { readonly kind: 'entered'; readonly entry: PinEntry }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'invalid'; readonly reason: 'length' | 'characters' };

/** A PIN pad device. */
export interface PinPad {
  /** Show the prompt and wait for the person to type (twice with `confirm`). */
  collect(request: PinRequest): Promise<PinPadResult>;
}

/** Digits held by entries, reachable only from this module. */
const DIGITS = new WeakMap<PinEntry, Uint8Array>();

/** One PIN typed on the pad: opaque, single use. */
export class PinEntry {
  readonly length: number;
  private constructor(digits: Uint8Array) {
    this.length = digits.length;
    DIGITS.set(this, digits);
  }

  /** @internal Only pads make entries; the entry takes the buffer over (and zeroises it when spent). */
  static fromPad(digits: Uint8Array): PinEntry {
    return new PinEntry(digits);
  }

  /** Whether the entry was already sent (or discarded). */
  get spent(): boolean {
    return !DIGITS.has(this);
  }

  /** Zeroise without sending (cancelled flow). */
  discard(): void {
    DIGITS.get(this)?.fill(0);
    DIGITS.delete(this);
  }

  toString(): string {
    return `PinEntry(${this.length} digits)`;
  }
  toJSON(): string {
    return '[PIN]';
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Send one plain command whose data is the entry (or `prefix ‖ entry`) straight to the card on
 * the terminal's local transport, and return only the status word. The entry is zeroised
 * whatever happens. Only the terminal agent calls this, on its own reader session.
 *   C: 00 20 00 81 04 <PIN>        VERIFY
 *   C: 00 24 01 81 04 <new PIN>    CHANGE REFERENCE DATA (first setting / after unblock)
 */
export async function transmitPinCommand(transport: CardTransport, header: readonly [number, number, number, number], entry: PinEntry): Promise<number> {
  const digits = DIGITS.get(entry);
  if (!digits) throw new JukiError('JUKI_ERR_PIN_PAD', 'this PIN entry was already used or discarded: ask the pad again');
  DIGITS.delete(entry);
  if (digits.length > 255) throw invalid('entry', `expected at most 255 digits, got ${digits.length}`);
  const apdu = concatBytes(Uint8Array.from(header), Uint8Array.of(digits.length), digits);
  try {
    return statusWord(await send(transport, apdu));
  } finally {
    digits.fill(0);
    apdu.fill(0);
  }
}

function checkRequest(r: PinRequest): void {
  if (!Number.isInteger(r.minLength) || !Number.isInteger(r.maxLength) || r.minLength < 1 || r.maxLength > 16 || r.minLength > r.maxLength) {
    throw new JukiError('JUKI_ERR_PIN_PAD', `PIN length ${r.minLength}..${r.maxLength}: expected 1 <= min <= max <= 16`);
  }
}

/** What a person does at the pad: types digits then OK, or presses cancel. */
export type Keystrokes = string | { readonly cancel: true };

/**
 * An in-process PIN pad for tests and `juki up`: a test (or the web PIN-pad page through the
 * terminal) plays the person, `type('1234')` per entry, before or while the pad waits. The
 * typed strings live only inside the pad until they become a PinEntry.
 */
export class ScriptedPinPad implements PinPad {
  readonly #typed: Keystrokes[] = [];
  #waiter: ((k: Keystrokes) => void) | undefined;
  #busy = false;
  /** The prompts shown, in order (display text only: never digits). */
  readonly prompts: string[] = [];
  #promptListeners: Array<(prompt: string) => void> = [];

  /** The person types an entry and presses OK (or cancel). */
  type(keys: Keystrokes): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(keys);
    } else this.#typed.push(keys);
  }

  /** Resolves at the next prompt the pad shows. */
  nextPrompt(): Promise<string> {
    return new Promise((resolve) => this.#promptListeners.push(resolve));
  }

  async collect(request: PinRequest): Promise<PinPadResult> {
    checkRequest(request);
    if (this.#busy) throw new JukiError('JUKI_ERR_PIN_PAD', 'the PIN pad is already taking an entry');
    this.#busy = true;
    try {
      const first = await this.#read(request.prompt);
      if (typeof first !== 'string') return { kind: 'cancelled' };
      const bad = shape(first, request);
      if (bad) return { kind: 'invalid', reason: bad };
      const a = new Uint8Array(Buffer.from(first, 'ascii'));
      if (!request.confirm) return { kind: 'entered', entry: PinEntry.fromPad(a) };
      const second = await this.#read(`${request.prompt} (again)`);
      if (typeof second !== 'string') {
        a.fill(0);
        return { kind: 'cancelled' };
      }
      const b = new Uint8Array(Buffer.from(second, 'ascii'));
      const same = a.length === b.length && timingSafeEqual(a, b);
      b.fill(0);
      if (!same) {
        a.fill(0);
        return { kind: 'mismatch' };
      }
      return { kind: 'entered', entry: PinEntry.fromPad(a) };
    } finally {
      this.#busy = false;
    }
  }

  #read(prompt: string): Promise<Keystrokes> {
    this.prompts.push(prompt);
    const listeners = this.#promptListeners;
    this.#promptListeners = [];
    for (const l of listeners) l(prompt);
    const queued = this.#typed.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
}

function shape(s: string, r: PinRequest): 'length' | 'characters' | undefined {
  if (!(r.characters === 'A-Z0-9' ? /^[0-9A-Z]*$/ : /^[0-9]*$/).test(s)) return 'characters';
  if (s.length < r.minLength || s.length > r.maxLength) return 'length';
  return undefined;
}
