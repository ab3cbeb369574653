/**
 * The card side of vsmartcard's vpcd: puts a CardDevice into pcscd's "Virtual PCD" reader,
 * so PC/SC clients (opensc-tool, pkcs11-tool, the PC/SC transport) see a card in a reader.
 *
 * vpcd (loaded inside pcscd) listens on a TCP port per slot (35963, 35964); the card
 * connects as a client and answers what vpcd sends (see vpcd-frame.ts). vpcd only listens
 * while pcscd runs, so the card reconnects with backoff until it is closed.
 */
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import type { CardDevice } from '../card/index.ts';
import { toHex } from '../util/index.ts';
import { encodeFrame, FrameDecoder, VPCD_CTRL_ATR, VPCD_CTRL_OFF, VPCD_CTRL_ON, VPCD_CTRL_RESET } from './vpcd-frame.ts';

/** vpcd's default port for slot 0 (0x8C7B); slot 1 is the next port. */
export const VPCD_DEFAULT_PORT = 35963;

/** The status word sent when the card fails to answer: vpcd takes an empty R-APDU for card removal. */
const SW_NO_PRECISE_DIAGNOSIS = Uint8Array.of(0x6f, 0x00);

export type VpcdLogLevel = 'info' | 'warn' | 'error';
export type VpcdLogger = (level: VpcdLogLevel, message: string) => void;

/** What the card just did, reported to `onChange` before its answer goes back to vpcd. */
export type VpcdCardEvent =
  | { readonly kind: 'power-on' | 'power-off' | 'reset' }
  | { readonly kind: 'apdu'; readonly command: Uint8Array; readonly response: Uint8Array };

export interface VpcdOptions {
  /** Where vpcd listens. Default 127.0.0.1. */
  readonly host?: string;
  /** vpcd's slot port. Default 35963. */
  readonly port?: number;
  /**
   * Called after every power change and every APDU the card handled, before the answer goes
   * back, so state persisted here is on disk before the host sees the result. A throw is
   * logged and turns that APDU's answer into 6F00.
   */
  readonly onChange?: (event: VpcdCardEvent) => void;
  /** Where log lines go. Default: warnings and errors to stderr, info dropped. */
  readonly log?: VpcdLogger;
  /** First reconnect delay in ms, doubled after each failure. Default 50. */
  readonly minBackoffMs?: number;
  /** Longest reconnect delay in ms. Default 2000. */
  readonly maxBackoffMs?: number;
}

export interface VpcdEvents {
  /** TCP connected. Not yet attached: a second card on a busy port is accepted by the kernel and never polled. */
  connected: [];
  /** vpcd spoke to the card: the first frame after a connect. The card is now in the reader. */
  attached: [];
  /** The connection ended (pcscd stopped, or close()); `attached` says whether vpcd had polled the card. */
  disconnected: [info: { attached: boolean; reason: string }];
  /** A connect attempt failed; the next one is in `delayMs`. */
  retrying: [info: { delayMs: number; reason: string }];
  /** The bridge stopped for good (after close()). */
  closed: [];
}

/** A card attached to vpcd: events for the connection, close() to pull the card out. */
export class VpcdAttachment extends EventEmitter<VpcdEvents> {
  readonly host: string;
  readonly port: number;
  #socket: Socket | undefined;
  #attached = false;
  #stopping = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #backoff: number;
  #closed: Promise<void> | undefined;
  readonly #decoder = new FrameDecoder();
  readonly #log: VpcdLogger;

  constructor(
    private readonly device: CardDevice,
    private readonly options: VpcdOptions = {},
  ) {
    super();
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? VPCD_DEFAULT_PORT;
    this.#backoff = options.minBackoffMs ?? 50;
    this.#log = options.log ?? defaultLog;
  }

  /** Whether vpcd is polling the card now. */
  get attached(): boolean {
    return this.#attached;
  }

  /** Bytes of a frame received but not yet complete (for diagnostics and framing tests). */
  get bufferedBytes(): number {
    return this.#decoder.pending;
  }

  /** Start connecting (done by attachToVpcd). */
  start(): this {
    this.#connect();
    return this;
  }

  /** Resolves the next time vpcd polls the card (at once if it is attached). */
  whenAttached(): Promise<void> {
    if (this.#attached) return Promise.resolve();
    return new Promise((resolve) => this.once('attached', () => resolve()));
  }

  /** Disconnect and stop reconnecting; resolves once the socket is closed. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#closed = new Promise<void>((resolve) => {
      const done = () => {
        this.emit('closed');
        resolve();
      };
      if (!socket || socket.destroyed) return done();
      socket.once('close', done);
      // vpcd sees EOF and reports the card removed.
      socket.destroy();
    });
    return this.#closed;
  }

  #connect(): void {
    if (this.#stopping) return;
    const socket = new Socket();
    this.#socket = socket;
    this.#decoder.reset();
    let connected = false;
    let lastError = 'connection closed';
    socket.setNoDelay(true);
    socket.on('connect', () => {
      connected = true;
      this.#log('info', `vpcd ${this.host}:${this.port}: connected`);
      this.emit('connected');
    });
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      lastError = e.code ?? e.message;
    });
    socket.on('close', () => {
      const wasAttached = this.#attached;
      this.#attached = false;
      if (this.#socket === socket) this.#socket = undefined;
      if (connected) {
        this.#log(wasAttached ? 'info' : 'warn', `vpcd ${this.host}:${this.port}: disconnected (${lastError})`);
        this.emit('disconnected', { attached: wasAttached, reason: lastError });
      }
      if (this.#stopping) return;
      // A session that got as far as being polled was healthy: start the backoff afresh.
      if (wasAttached) this.#backoff = this.options.minBackoffMs ?? 50;
      const delayMs = this.#backoff;
      this.#backoff = Math.min(this.#backoff * 2, this.options.maxBackoffMs ?? 2000);
      this.emit('retrying', { delayMs, reason: lastError });
      this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
    });
    socket.connect(this.port, this.host);
  }

  #onData(socket: Socket, chunk: Buffer): void {
    let frames: Uint8Array[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (e) {
      this.#log('error', `vpcd ${this.host}:${this.port}: bad frame: ${(e as Error).message}`);
      socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (socket.destroyed) return;
      if (!this.#attached) {
        this.#attached = true;
        this.#log('info', `vpcd ${this.host}:${this.port}: card attached`);
        this.emit('attached');
      }
      let reply: Uint8Array | undefined;
      try {
        reply = this.#handle(frame);
      } catch (e) {
        // Only a failed GET ATR gets here. vpcd waits for an answer with no timeout, and an
        // empty one means "removed": so pull the card out ourselves and come back later.
        this.#log('error', `vpcd ${this.host}:${this.port}: ${(e as Error).message}; detaching`);
        socket.destroy();
        return;
      }
      if (reply) socket.write(encodeFrame(reply));
    }
  }

  /** One frame from vpcd; returns the payload to send back, or undefined for none. */
  #handle(frame: Uint8Array): Uint8Array | undefined {
    if (frame.length === 1) return this.#control(frame[0]!);
    if (frame.length === 0) {
      this.#log('warn', `vpcd ${this.host}:${this.port}: ignored an empty frame`);
      return undefined;
    }
    let response: Uint8Array;
    try {
      response = this.device.transmit(frame);
    } catch (e) {
      this.#log('error', `vpcd: the card threw on ${toHex(frame.subarray(0, 4))}: ${(e as Error).stack ?? e}; answering 6F00`);
      return SW_NO_PRECISE_DIAGNOSIS;
    }
    if (response.length < 2) {
      this.#log('error', `vpcd: the card gave a ${response.length}-byte answer to ${toHex(frame.subarray(0, 4))}; answering 6F00`);
      return SW_NO_PRECISE_DIAGNOSIS;
    }
    if (!this.#changed({ kind: 'apdu', command: frame, response })) return SW_NO_PRECISE_DIAGNOSIS;
    return response;
  }

  /** A control byte; only GET ATR is answered. Throws when the card has no ATR to give. */
  #control(byte: number): Uint8Array | undefined {
    if (byte === VPCD_CTRL_ATR) {
      // Asked about 3 times a second as the presence poll: answer at once, never empty.
      let atr: Uint8Array;
      try {
        atr = this.device.atr;
      } catch (e) {
        throw new Error(`the card failed GET ATR: ${(e as Error).stack ?? e}`);
      }
      if (atr.length === 0) throw new Error('the card has an empty ATR');
      return atr;
    }
    try {
      switch (byte) {
        case VPCD_CTRL_ON:
          this.device.powerOn();
          this.#changed({ kind: 'power-on' });
          return undefined;
        case VPCD_CTRL_OFF:
          this.device.powerOff();
          this.#changed({ kind: 'power-off' });
          return undefined;
        case VPCD_CTRL_RESET:
          this.device.reset();
          this.#changed({ kind: 'reset' });
          return undefined;
        default:
          this.#log('warn', `vpcd ${this.host}:${this.port}: ignored unknown control byte ${byte.toString(16).padStart(2, '0')}`);
          return undefined;
      }
    } catch (e) {
      this.#log('error', `vpcd: the card failed control ${byte.toString(16).padStart(2, '0')}: ${(e as Error).stack ?? e}`);
      return undefined;
    }
  }

  /** Report a change to onChange; false when it threw (logged). */
  #changed(event: VpcdCardEvent): boolean {
    if (!this.options.onChange) return true;
    try {
      this.options.onChange(event);
      return true;
    } catch (e) {
      this.#log('error', `vpcd: onChange failed after ${event.kind}: ${(e as Error).stack ?? e}`);
      return false;
    }
  }
}

/**
 * Attach a card to pcscd through vpcd: connect to host:port (default 127.0.0.1:35963),
 * answer vpcd until close(), and reconnect with backoff whenever vpcd is not listening.
 * `juki card vpcd` is this plus loading a card image.
 */
export function attachToVpcd(device: CardDevice, options: VpcdOptions = {}): VpcdAttachment {
  return new VpcdAttachment(device, options).start();
}

function defaultLog(level: VpcdLogLevel, message: string): void {
  if (level !== 'info') process.stderr.write(`${message}\n`);
}
