/**
 * PC/SC client transport: drives a card in any reader pcscd knows, a real one or vpcd's
 * virtual one, through the `smartcard` npm binding (N-API over Debian's libpcsclite).
 *
 * The binding is an optional dependency: it compiles at `npm ci` time against
 * `libpcsclite-dev` with g++/make/python3/pkg-config, and everything else in juki works
 * without it. It is loaded on first use; when it is missing, openPcsc() says what to install.
 *
 * Which pcscd: libpcsclite connects to /run/pcscd/pcscd.comm unless PCSCLITE_CSOCK_NAME
 * names another socket. The library reads that variable once, at the first context a
 * process opens, so set it before calling openPcsc().
 *
 * Never drive a card attached through vpcd from the same thread as this client: the
 * binding's context constructor, close() and SCardDisconnect are synchronous, pcscd may
 * be waiting on the card (its presence poll) while they block, and the card could not answer.
 */
import { JukiError, toHex } from '../util/index.ts';
import type { CardReader, CardTransport } from './transport.ts';

/**
 * The part of the `smartcard` binding's API used here, declared locally so that juki
 * typechecks where the optional binding did not install.
 */
namespace Smartcard {
  export interface ReaderState {
    name: string;
    state: number;
    changed: boolean;
    atr: Buffer | null;
  }
  export interface CardInterface {
    readonly protocol: number;
    readonly atr: Buffer | null;
    transmit(command: Buffer, options?: { maxRecvLength?: number }): Promise<Buffer>;
    disconnect(disposition?: number): void;
  }
  export interface ReaderInterface {
    readonly name: string;
    connect(shareMode?: number, protocol?: number): Promise<CardInterface>;
  }
  export interface ContextInterface {
    listReaders(): ReaderInterface[];
    waitForChange(readers?: ReaderState[], timeout?: number): Promise<ReaderState[] | null>;
    close(): void;
  }
}

interface Binding {
  readonly Context: new () => Smartcard.ContextInterface;
  readonly SCARD_SHARE_EXCLUSIVE: number;
  readonly SCARD_SHARE_SHARED: number;
  readonly SCARD_PROTOCOL_T0: number;
  readonly SCARD_PROTOCOL_T1: number;
  readonly SCARD_LEAVE_CARD: number;
  readonly SCARD_RESET_CARD: number;
  readonly SCARD_UNPOWER_CARD: number;
  readonly SCARD_STATE_UNAWARE: number;
  readonly SCARD_STATE_CHANGED: number;
  readonly SCARD_STATE_UNKNOWN: number;
  readonly SCARD_STATE_PRESENT: number;
  readonly SCARD_STATE_MUTE: number;
}

/** The binding's name, in a variable so the compiler does not look for its types. */
const BINDING_PACKAGE = 'smartcard';
let binding: Promise<Binding> | undefined;

/** The Debian packages the binding needs to build; named in every "not installed" message. */
export const PCSC_BUILD_PACKAGES = 'libpcsclite-dev g++ make python3 pkg-config';

/** Load the native binding once; a JukiError JUKI_ERR_READER names the packages when it is missing. */
function loadBinding(): Promise<Binding> {
  binding ??= import(BINDING_PACKAGE).then(
    // A CommonJS package: under Node's ESM loader its exports sit on `default`.
    (m: { default?: Binding }) => (m.default ?? m) as Binding,
    (e: unknown) => {
      binding = undefined;
      throw new JukiError(
        'JUKI_ERR_READER',
        `the PC/SC binding 'smartcard' is not installed or did not build (${(e as Error).message}); ` +
          `install the Debian packages ${PCSC_BUILD_PACKAGES} and run npm ci again`,
      );
    },
  );
  return binding;
}

/** How the card is left when a session closes, as SCardDisconnect's disposition. */
export type PcscDisposition = 'leave' | 'reset' | 'unpower';

export interface PcscConnectOptions {
  /** Share the card with other PC/SC clients (default) or hold it exclusively. */
  readonly exclusive?: boolean;
}

/** A PC/SC context: the readers pcscd lists, and sessions with the cards in them. */
export class PcscContext {
  #closed = false;

  private constructor(
    private readonly pcsc: Binding,
    private readonly context: Smartcard.ContextInterface,
  ) {}

  /** Establish a context with pcscd. Rejects with JUKI_ERR_READER when the binding is missing or pcscd is not running. */
  static async open(): Promise<PcscContext> {
    const pcsc = await loadBinding();
    let context: Smartcard.ContextInterface;
    try {
      context = new pcsc.Context();
    } catch (e) {
      throw readerError('cannot reach pcscd', e);
    }
    return new PcscContext(pcsc, context);
  }

  /** The names of the readers pcscd has now, e.g. `Virtual PCD 00 00`. */
  listReaders(): string[] {
    this.#check();
    try {
      return this.context.listReaders().map((r) => r.name);
    } catch (e) {
      throw readerError('cannot list readers', e);
    }
  }

  /** A handle on one reader by name (it need not be present yet). */
  reader(name: string): PcscReader {
    return new PcscReader(this, name);
  }

  /** Whether `readerName` holds a card now (JUKI_ERR_READER when there is no such reader). */
  async cardPresent(readerName: string): Promise<boolean> {
    this.#check();
    let states: Smartcard.ReaderState[] | null;
    try {
      // UNAWARE as the known state makes SCardGetStatusChange answer at once with the current one.
      states = await this.context.waitForChange([watch(readerName, this.pcsc.SCARD_STATE_UNAWARE)], 0);
    } catch (e) {
      throw readerError(`cannot query reader ${readerName}`, e);
    }
    const state = states?.[0]?.state ?? 0;
    if (state & this.pcsc.SCARD_STATE_UNKNOWN) throw new JukiError('JUKI_ERR_READER', `no reader named ${readerName}`);
    return this.#holdsCard(state);
  }

  /**
   * Wait until `readerName` holds a powered-up card, or `timeoutMs` passes (JUKI_ERR_READER).
   * Uses SCardGetStatusChange, so it wakes on the change itself rather than by polling.
   */
  async waitForCard(readerName: string, timeoutMs: number): Promise<void> {
    this.#check();
    const deadline = Date.now() + timeoutMs;
    let known = this.pcsc.SCARD_STATE_UNAWARE;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new JukiError('JUKI_ERR_READER', `no card in reader ${readerName} after ${timeoutMs} ms`);
      let states: Smartcard.ReaderState[] | null;
      try {
        states = await this.context.waitForChange([watch(readerName, known)], left);
      } catch (e) {
        throw readerError(`cannot watch reader ${readerName}`, e);
      }
      if (states === null) throw new JukiError('JUKI_ERR_READER', `waiting for a card in ${readerName} was cancelled`);
      const state = states[0];
      if (!state) continue; // timed out: the loop's deadline check reports it
      if (state.state & this.pcsc.SCARD_STATE_UNKNOWN) throw new JukiError('JUKI_ERR_READER', `no reader named ${readerName}`);
      if (this.#holdsCard(state.state)) return;
      known = state.state & ~this.pcsc.SCARD_STATE_CHANGED;
    }
  }

  /** Open a session with the card in `readerName` (T=0 or T=1, whichever the card runs). */
  async connect(readerName: string, options: PcscConnectOptions = {}): Promise<PcscTransport> {
    this.#check();
    const reader = this.context.listReaders().find((r) => r.name === readerName);
    if (!reader) throw new JukiError('JUKI_ERR_READER', `no reader named ${readerName}`, { reader: readerName });
    const share = options.exclusive ? this.pcsc.SCARD_SHARE_EXCLUSIVE : this.pcsc.SCARD_SHARE_SHARED;
    let card: Smartcard.CardInterface;
    try {
      card = await reader.connect(share, this.pcsc.SCARD_PROTOCOL_T0 | this.pcsc.SCARD_PROTOCOL_T1);
    } catch (e) {
      throw readerError(`cannot connect to the card in ${readerName}`, e);
    }
    return new PcscTransport(this.pcsc, card, readerName);
  }

  /** Release the context. Open sessions should be closed first. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.context.close();
  }

  #holdsCard(state: number): boolean {
    return (state & this.pcsc.SCARD_STATE_PRESENT) !== 0 && (state & this.pcsc.SCARD_STATE_MUTE) === 0;
  }

  #check(): void {
    if (this.#closed) throw new JukiError('JUKI_ERR_READER', 'the PC/SC context is closed');
  }
}

/** Open a PC/SC context (see PcscContext.open). */
export function openPcsc(): Promise<PcscContext> {
  return PcscContext.open();
}

/** One PC/SC reader as a CardReader, so host flows treat it like an in-process slot. */
export class PcscReader implements CardReader {
  constructor(
    private readonly context: PcscContext,
    readonly name: string,
  ) {}

  cardPresent(): Promise<boolean> {
    return this.context.cardPresent(this.name);
  }

  waitForCard(timeoutMs: number): Promise<void> {
    return this.context.waitForCard(this.name, timeoutMs);
  }

  connect(options?: PcscConnectOptions): Promise<PcscTransport> {
    return this.context.connect(this.name, options);
  }
}

/** A session with a card in a PC/SC reader. Send one APDU at a time. */
export class PcscTransport implements CardTransport {
  readonly atr: Uint8Array;
  /** The protocol pcscd negotiated: 1 for T=0, 2 for T=1 (vpcd always reports T=1). */
  readonly protocol: number;
  #closed = false;

  constructor(
    private readonly pcsc: Binding,
    private readonly card: Smartcard.CardInterface,
    readonly readerName: string,
  ) {
    this.atr = new Uint8Array(card.atr ?? []);
    this.protocol = card.protocol;
  }

  /** SCardTransmit: the raw response (data ‖ SW1 SW2); room for 65536 data bytes when the command is extended. */
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (this.#closed) throw new JukiError('JUKI_ERR_READER', 'the card session is closed');
    const extended = apdu.length > 5 && apdu[4] === 0;
    try {
      const response = await this.card.transmit(Buffer.from(apdu), { maxRecvLength: extended ? 65538 : 258 });
      return new Uint8Array(response);
    } catch (e) {
      throw readerError(`transmit of ${toHex(apdu.subarray(0, 4))} to ${this.readerName} failed`, e);
    }
  }

  /** SCardDisconnect with the disposition given (default: leave the card as it is). */
  async close(disposition: PcscDisposition = 'leave'): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const code = {
      leave: this.pcsc.SCARD_LEAVE_CARD,
      reset: this.pcsc.SCARD_RESET_CARD,
      unpower: this.pcsc.SCARD_UNPOWER_CARD,
    }[disposition];
    try {
      this.card.disconnect(code);
    } catch {
      // The card or pcscd is already gone: the session is over either way.
    }
  }
}

/** The reader state SCardGetStatusChange starts from: the binding reads only name and state. */
function watch(name: string, state: number): Smartcard.ReaderState {
  return { name, state, changed: false, atr: null };
}

function readerError(what: string, e: unknown): JukiError {
  return new JukiError('JUKI_ERR_READER', `${what}: ${(e as Error).message ?? e}`);
}
