/**
 * The terminal agent: the process at a counter, agency desk or bureau room that owns the card
 * readers and the PIN pad. Servers drive cards through it in two ways:
 *
 * - relay: APDUs the server built (its secure channel, where the keys are) go to the card
 *   byte for byte and the answers come back; the agent can neither read nor forge them, and it
 *   refuses any relayed command that would carry a PIN (VERIFY, CHANGE REFERENCE DATA, RESET
 *   RETRY COUNTER with plain data): PINs come only from the pad.
 * - local steps: SELECT + a PIN from the pad, run by the agent itself (setPin, verifyPin,
 *   operatorLogin), which answer only with outcomes.
 *
 * Both go through one card session per reader and one queue, so a PIN verified locally stays
 * verified for the channel the server opens next through the relay (R4.2.1), and relayed and
 * local commands never interleave. `TerminalAgentApi` is the agent's whole surface: the
 * in-process Terminal implements it, the HTTPS+mTLS server exposes it and the HTTPS client
 * implements it again for a CS in another process. A `juki terminal` command is a thin wrapper:
 * build readers (VirtualReader / PC/SC) and a pad, `new Terminal(...)`, `serveTerminalHttps(...)`.
 */
import type { CardReader, CardTransport } from '../reader/index.ts';
import { JukiError, toHex } from '../util/index.ts';
import {
  operatorSignWithPad, setPinWithPad, verifyPinWithPad, type OperatorSignOutcome, type PinApplicationName, type PinSetOutcome, type PinVerifyOutcome,
} from './local-steps.ts';
import type { PinPad } from './pin-pad.ts';

/** A reader as the agent reports it. */
export interface ReaderInfo {
  readonly name: string;
  readonly cardPresent: boolean;
}

/** Everything a server may ask of a terminal agent. */
export interface TerminalAgentApi {
  /** The agent's id (e.g. its node id `terminal:131016-counter-1`). */
  readonly terminalId: string;
  readers(): Promise<ReaderInfo[]>;
  /** Open (or reuse) the card session on a reader; the card's ATR. */
  connect(reader: string): Promise<Uint8Array>;
  /** Relay one APDU; the raw answer (data ‖ SW). */
  transmit(reader: string, apdu: Uint8Array): Promise<Uint8Array>;
  /** Local: the holder sets an unset PIN on the pad. */
  setPin(reader: string, app: PinApplicationName, prompt?: string): Promise<PinSetOutcome>;
  /** Local: the holder verifies the PIN on the pad; the application stays selected and verified. */
  verifyPin(reader: string, app: PinApplicationName, prompt?: string): Promise<PinVerifyOutcome>;
  /** Local: operator card login (PIN on the pad, INTERNAL AUTHENTICATE of the challenge). */
  operatorLogin(reader: string, challenge: Uint8Array): Promise<OperatorSignOutcome>;
  /** End the card session on a reader (the card is powered off). */
  release(reader: string): Promise<void>;
}

/** What the agent saw relayed, for its operator log: headers and lengths only. */
export interface RelayRecord {
  readonly reader: string;
  readonly header: string;
  readonly lc: number;
  readonly sw: string;
}

export interface TerminalOptions {
  readonly id: string;
  readonly readers: readonly CardReader[];
  readonly pinPad: PinPad;
  /** Called for every relayed command (header, length, SW; never data). */
  readonly onRelay?: (record: RelayRecord) => void;
}

interface Session {
  transport: CardTransport | null;
  queue: Promise<unknown>;
}

/** INS of the commands that carry a PIN in plain data. */
const PIN_INS = new Set([0x20, 0x24, 0x2c]);

/** Whether a relayed command would carry a PIN: plain (no SM) VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER with data. */
export function carriesPin(apdu: Uint8Array): boolean {
  if (apdu.length < 4) return false;
  const cla = apdu[0]!;
  if (!PIN_INS.has(apdu[1]!) || (cla & 0x80) !== 0 || (cla & 0x04) !== 0) return false;
  if (apdu.length <= 5) return false; // case 1 / case 2 short: the status query
  if (apdu.length === 7 && apdu[4] === 0) return false; // case 2 extended
  return true;
}

/** The in-process terminal agent. */
export class Terminal implements TerminalAgentApi {
  readonly terminalId: string;
  readonly #readers = new Map<string, CardReader>();
  readonly #sessions = new Map<string, Session>();
  readonly #pad: PinPad;
  readonly #onRelay: ((r: RelayRecord) => void) | undefined;

  constructor(options: TerminalOptions) {
    this.terminalId = options.id;
    for (const r of options.readers) {
      if (this.#readers.has(r.name)) throw new JukiError('JUKI_ERR_CONFLICT', `two readers named ${r.name}`);
      this.#readers.set(r.name, r);
    }
    this.#pad = options.pinPad;
    this.#onRelay = options.onRelay;
  }

  async readers(): Promise<ReaderInfo[]> {
    return Promise.all([...this.#readers.values()].map(async (r) => ({ name: r.name, cardPresent: await r.cardPresent() })));
  }

  async connect(reader: string): Promise<Uint8Array> {
    return this.#run(reader, async (t) => t.atr.slice());
  }

  async transmit(reader: string, apdu: Uint8Array): Promise<Uint8Array> {
    if (carriesPin(apdu)) {
      throw new JukiError('JUKI_ERR_TERMINAL_DENIED', `relayed command ${toHex(apdu.subarray(0, 4))} would carry a PIN: PINs come only from the PIN pad`, { reader, header: toHex(apdu.subarray(0, 4)) });
    }
    return this.#run(reader, async (t) => {
      const response = await t.transmit(apdu);
      this.#onRelay?.({
        reader,
        header: toHex(apdu.subarray(0, 4)),
        lc: Math.max(0, apdu.length - 5),
        sw: toHex(response.subarray(response.length - 2)),
      });
      return response;
    });
  }

  /** A CardTransport for a server in this process: every APDU goes through `transmit` (and its PIN filter). */
  async relay(reader: string): Promise<CardTransport> {
    return relayTransport(this, reader);
  }

  /** The local session on a reader, for flows that run inside the terminal itself (queue-protected, one command at a time). */
  async localTransport(reader: string): Promise<CardTransport> {
    const atr = await this.connect(reader);
    return {
      atr,
      transmit: (apdu) => this.#run(reader, (t) => t.transmit(apdu)),
      close: async () => undefined,
    };
  }

  setPin(reader: string, app: PinApplicationName, prompt?: string): Promise<PinSetOutcome> {
    return this.#run(reader, (t) => setPinWithPad(t, this.#pad, app, prompt));
  }

  verifyPin(reader: string, app: PinApplicationName, prompt?: string): Promise<PinVerifyOutcome> {
    return this.#run(reader, (t) => verifyPinWithPad(t, this.#pad, app, prompt));
  }

  operatorLogin(reader: string, challenge: Uint8Array): Promise<OperatorSignOutcome> {
    return this.#run(reader, (t) => operatorSignWithPad(t, this.#pad, challenge));
  }

  async release(reader: string): Promise<void> {
    this.#reader(reader);
    const s = this.#sessions.get(reader);
    if (!s) return;
    await s.queue.catch(() => undefined);
    const t = s.transport;
    s.transport = null;
    await t?.close();
  }

  /** Release every reader. */
  async close(): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((r) => this.release(r)));
  }

  #reader(name: string): CardReader {
    const r = this.#readers.get(name);
    if (!r) throw new JukiError('JUKI_ERR_TERMINAL_DENIED', `terminal ${this.terminalId} has no reader named ${JSON.stringify(name)}`, { reader: name });
    return r;
  }

  /** Run `fn` on the reader's session, after whatever is queued there; a reader failure drops the session (the next call reconnects). */
  #run<T>(readerName: string, fn: (t: CardTransport) => Promise<T>): Promise<T> {
    const reader = this.#reader(readerName);
    let s = this.#sessions.get(readerName);
    if (!s) {
      s = { transport: null, queue: Promise.resolve() };
      this.#sessions.set(readerName, s);
    }
    const session = s;
    const next = session.queue.catch(() => undefined).then(async () => {
      session.transport ??= await reader.connect();
      try {
        return await fn(session.transport);
      } catch (e) {
        if (e instanceof JukiError && e.code === 'JUKI_ERR_READER') {
          const t = session.transport;
          session.transport = null;
          await t?.close().catch(() => undefined);
        }
        throw e;
      }
    });
    session.queue = next;
    return next;
  }
}

/** A CardTransport over a terminal agent's relay (in-process or over HTTPS): what server-side card flows run on. */
export async function relayTransport(agent: TerminalAgentApi, reader: string): Promise<CardTransport> {
  const atr = await agent.connect(reader);
  let closed = false;
  return {
    atr,
    async transmit(apdu: Uint8Array): Promise<Uint8Array> {
      if (closed) throw new JukiError('JUKI_ERR_READER', 'the relay session is closed');
      return agent.transmit(reader, apdu);
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}
