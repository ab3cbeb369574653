/**
 * Transports to a card that lives in this process: the embedded default, tests, and
 * terminals that need more card slots than pcscd's two vpcd readers.
 */
import { EventEmitter } from 'node:events';
import type { CardDevice } from '../card/index.ts';
import { JukiError } from '../util/index.ts';
import type { CardReader, CardTransport } from './transport.ts';

export interface InProcessOptions {
  /** Power the card off when the session closes, as SCardDisconnect(SCARD_UNPOWER_CARD) would. Default true. */
  readonly powerOffOnClose?: boolean;
  /** Whether the card is still reachable; a VirtualReader answers false once the card is pulled. */
  readonly present?: () => boolean;
}

/** A session with a CardDevice in this process: powers the card on if it is off. */
export class InProcessTransport implements CardTransport {
  readonly atr: Uint8Array;
  #closed = false;

  constructor(
    private readonly device: CardDevice,
    private readonly options: InProcessOptions = {},
  ) {
    this.atr = device.powered ? device.atr : device.powerOn();
  }

  /** One APDU through the card's own transmit; the copy keeps the caller's buffer out of the card. */
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (this.#closed) throw new JukiError('JUKI_ERR_READER', 'the card session is closed');
    if (this.options.present && !this.options.present()) throw new JukiError('JUKI_ERR_READER', 'the card was removed');
    let response: Uint8Array;
    try {
      response = this.device.transmit(Uint8Array.from(apdu));
    } catch (e) {
      throw new JukiError('JUKI_ERR_READER', `the card failed to answer: ${(e as Error).message}`, { cause: String(e) });
    }
    if (response.length < 2) throw new JukiError('JUKI_ERR_READER', `the card gave a ${response.length}-byte response with no status word`);
    return response;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const present = this.options.present?.() ?? true;
    if ((this.options.powerOffOnClose ?? true) && present && this.device.powered) this.device.powerOff();
  }
}

export interface VirtualReaderEvents {
  inserted: [device: CardDevice];
  removed: [device: CardDevice];
}

/**
 * An in-process card slot: insert and remove a CardDevice, with `inserted`/`removed`
 * events. Pulling the card powers it off and makes open sessions fail, as in a real reader.
 */
export class VirtualReader extends EventEmitter<VirtualReaderEvents> implements CardReader {
  #device: CardDevice | undefined;
  /** Bumped at every insertion, so a session opened before a pull-and-reinsert stays dead. */
  #insertion = 0;

  constructor(readonly name: string) {
    super();
  }

  /** The card in the slot, if any. */
  get device(): CardDevice | undefined {
    return this.#device;
  }

  /** Put a card in the slot. Refuses (JUKI_ERR_CONFLICT) when the slot already holds one. */
  insert(device: CardDevice): void {
    if (this.#device) throw new JukiError('JUKI_ERR_CONFLICT', `reader ${this.name} already holds a card`);
    this.#device = device;
    this.#insertion++;
    this.emit('inserted', device);
  }

  /** Pull the card out: it loses power and its open sessions fail. Returns it, or undefined if the slot was empty. */
  remove(): CardDevice | undefined {
    const device = this.#device;
    if (!device) return undefined;
    this.#device = undefined;
    if (device.powered) device.powerOff();
    this.emit('removed', device);
    return device;
  }

  async cardPresent(): Promise<boolean> {
    return this.#device !== undefined;
  }

  waitForCard(timeoutMs: number): Promise<void> {
    if (this.#device) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onInsert = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('inserted', onInsert);
        reject(new JukiError('JUKI_ERR_READER', `no card in reader ${this.name} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.once('inserted', onInsert);
    });
  }

  async connect(options: Omit<InProcessOptions, 'present'> = {}): Promise<CardTransport> {
    const device = this.#device;
    if (!device) throw new JukiError('JUKI_ERR_READER', `no card in reader ${this.name}`);
    const insertion = this.#insertion;
    return new InProcessTransport(device, { ...options, present: () => this.#insertion === insertion && this.#device === device });
  }
}
