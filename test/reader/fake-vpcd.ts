/**
 * An in-process stand-in for vpcd's side of the socket: listens like vpcd, accepts one card,
 * and lets a test send frames and read the card's replies byte-exactly, without pcscd.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '../../src/reader/index.ts';

export class FakeVpcd {
  #server: Server | undefined;
  #client: Socket | undefined;
  #decoder = new FrameDecoder();
  #frames: Uint8Array[] = [];
  #waiters: Array<(f: Uint8Array) => void> = [];
  #clientWaiters: Array<() => void> = [];
  /** How many cards connected since the fake was made. */
  connections = 0;

  private constructor(public port: number) {}

  /** Listen on 127.0.0.1:`port` (0 for any free port). */
  static async listen(port = 0): Promise<FakeVpcd> {
    const fake = new FakeVpcd(port);
    await fake.start();
    return fake;
  }

  /** (Re)start listening on the same port, as vpcd does when pcscd starts again. */
  async start(): Promise<void> {
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
  }

  #accept(socket: Socket): void {
    this.connections++;
    this.#client = socket;
    this.#decoder = new FrameDecoder();
    this.#frames = [];
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      for (const frame of this.#decoder.push(chunk)) {
        const waiter = this.#waiters.shift();
        if (waiter) waiter(frame);
        else this.#frames.push(frame);
      }
    });
    socket.on('error', () => {});
    for (const w of this.#clientWaiters.splice(0)) w();
  }

  /** Resolves when a card is connected. */
  whenClient(): Promise<void> {
    if (this.#client && !this.#client.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.#clientWaiters.push(resolve));
  }

  /** Write raw bytes to the card (for split and coalesced frames). */
  async writeRaw(bytes: Uint8Array): Promise<void> {
    const client = this.#client;
    if (!client) throw new Error('no card connected');
    await new Promise<void>((resolve, reject) => client.write(bytes, (e) => (e ? reject(e) : resolve())));
  }

  /** Send one frame. */
  send(payload: Uint8Array): Promise<void> {
    return this.writeRaw(encodeFrame(payload));
  }

  /** The card's next reply frame. */
  nextFrame(): Promise<Uint8Array> {
    const frame = this.#frames.shift();
    if (frame) return Promise.resolve(frame);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Frames the card sent that no one has read (should stay 0: control bytes get no reply). */
  get unreadFrames(): number {
    return this.#frames.length;
  }

  /** GET ATR, as vpcd's presence poll does. */
  async getAtr(): Promise<Uint8Array> {
    await this.send(Uint8Array.of(0x04));
    return this.nextFrame();
  }

  /** One APDU round trip. */
  async apdu(command: Uint8Array): Promise<Uint8Array> {
    await this.send(command);
    return this.nextFrame();
  }

  /** Drop the card's connection and stop listening, as when pcscd stops. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#client?.destroy();
    this.#client = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
