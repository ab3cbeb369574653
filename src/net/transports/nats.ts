/**
 * NATS JetStream, the production transport (Debian `nats-server`).
 *
 * Layout. One stream, `JUKI_NET`, over subjects `juki.net.<node id>` (work-queue retention:
 * a message leaves the stream once its receiver acknowledges it). Each receiving node has a
 * durable consumer filtered to its own subject, with explicit acks. The sender's outbox marks a
 * message delivered when JetStream has stored it (`queued`; publish with `msgID` = envelope id,
 * so a re-publish inside the duplicate window is dropped by the server); the receiver acks
 * only after its inbox transaction committed, so a receiver crash before the ack means
 * redelivery, which the inbox turns into a no-op.
 *
 * Identity. NATS carries no client certificate per message, and any client may publish on any
 * subject. So every message carries the sender's node certificate and an ECDSA P-256
 * signature over the canonical envelope text, made with the node key:
 *
 *   {"cert": "<sender node certificate, PEM>", "envelope": "<canonical envelope>", "sig": "<base64 P1363>"}
 *
 * The receiver verifies the certificate against the network CA (issuer, validity, purpose),
 * the signature against it, and gives the Gate that certificate's node as the peer; a bad
 * certificate or signature is a null peer, refused, audited and terminated (never redelivered).
 * The connection itself is mutual TLS: the server is configured with the network CA and
 * `verify: true`, so a client without a CA-issued certificate cannot connect at all.
 */
import { X509Certificate } from 'node:crypto';
import {
  AckPolicy, RetentionPolicy, StorageType, connect, nanos,
  type ConsumerMessages, type JetStreamClient, type JsMsg, type NatsConnection,
} from 'nats';
import { encodeEnvelope, type Envelope } from '../envelope.ts';
import type { Gate } from '../gate.ts';
import { natsInboxPrefix } from '../nats-config.ts';
import { backoffDelay, type Backoff } from '../outbox.ts';
import { peerIdentity, signAsNode, verifyNodeCertificate, verifyNodeSignature, type NodeCredentials } from '../pki.ts';
import { nodeId, type NodeSpec } from '../roles.ts';
import { transientFailure, type Acknowledgement, type Transport } from '../transport.ts';

export const NATS_STREAM = 'JUKI_NET';

/** The subject a node receives on. */
export function natsSubject(node: string): string {
  return `juki.net.${node}`;
}

export interface NatsConnectOptions {
  /** e.g. `tls://127.0.0.1:4222`. */
  readonly servers: string;
  readonly caPem: string;
  /** The node's certificate and key, presented to the server (mutual TLS). */
  readonly credentials?: { readonly certPem: string; readonly keyPem: string };
  readonly name?: string;
}

/**
 * Connect to nats-server over mutual TLS. A node's connection takes its replies on
 * `_INBOX_<node id>.` (nats-config.ts): under juki's server configuration that is the only
 * subscription a node may make, so nobody else can listen to its replies.
 */
export function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  let inboxPrefix: string | undefined;
  if (options.credentials) {
    try {
      inboxPrefix = natsInboxPrefix(nodeId(peerIdentity(options.credentials.certPem)));
    } catch {
      inboxPrefix = undefined; // not a node certificate: the server will refuse it anyway
    }
  }
  return connect({
    servers: options.servers,
    name: options.name ?? 'juki',
    tls: { ca: options.caPem, ...(options.credentials ? { cert: options.credentials.certPem, key: options.credentials.keyPem } : {}) },
    ...(inboxPrefix ? { inboxPrefix } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
}

/**
 * Create the JUKI_NET stream if it does not exist. Under juki's server configuration only the
 * stream creator (the national center) may; anyone else gets JUKI_ERR_NET_DELIVERY until it
 * exists (a receiver's start is retried).
 */
export async function ensureNatsStream(nc: NatsConnection): Promise<void> {
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.info(NATS_STREAM);
  } catch (e) {
    if (!/stream not found/i.test((e as Error).message)) throw transientFailure(`nats: stream ${NATS_STREAM}: ${(e as Error).message}`);
    try {
      await jsm.streams.add({
        name: NATS_STREAM,
        subjects: ['juki.net.>'],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        duplicate_window: nanos(120_000),
      });
    } catch (e2) {
      throw transientFailure(`nats: stream ${NATS_STREAM} does not exist and this node may not create it (${(e2 as Error).message}): the national center creates it on its first start`);
    }
  }
}

/** The signed wire form of an envelope (see the module comment). */
export function signedWire(envelope: Envelope, credentials: { certPem: string; keyPem: string }): string {
  const text = encodeEnvelope(envelope);
  return JSON.stringify({ cert: credentials.certPem, envelope: text, sig: signAsNode(credentials.keyPem, text) });
}

/** A sender's NATS transport: publish the signed envelope on the receiver's subject. */
export class NatsTransport implements Transport {
  readonly #js: JetStreamClient;
  readonly #credentials: NodeCredentials;
  readonly #timeoutMs: number;

  constructor(nc: NatsConnection, credentials: NodeCredentials, options: { timeoutMs?: number } = {}) {
    this.#js = nc.jetstream();
    this.#credentials = credentials;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async send(envelope: Envelope): Promise<Acknowledgement> {
    let ack;
    try {
      ack = await this.#js.publish(natsSubject(envelope.to), signedWire(envelope, this.#credentials), { msgID: envelope.id, timeout: this.#timeoutMs });
    } catch (e) {
      throw transientFailure(`nats: ${envelope.to}: ${(e as Error).message}`);
    }
    // Within the duplicate window the server drops a re-publish of the same id.
    return ack.duplicate ? 'duplicate' : 'queued';
  }

  async close(): Promise<void> {}
}

export interface NatsReceiverOptions {
  readonly nc: NatsConnection;
  readonly caPem: string;
  readonly gate: Gate;
  /** How long JetStream waits for an ack before redelivering, ms (default 30000). */
  readonly ackWaitMs?: number;
  /** Redelivery delay after a transient failure, ms (default 1000). */
  readonly retryMs?: number;
  /** Told about every message handled: its envelope id (if readable) and what was done. */
  readonly onHandled?: (id: string | undefined, outcome: 'ack' | 'term' | 'nak') => void;
}

export interface NatsReceiver {
  close(): Promise<void>;
}

/** Consume a node's subject: verify, pass through the Gate, ack after the inbox commit. */
export async function startNatsReceiver(options: NatsReceiverOptions): Promise<NatsReceiver> {
  const { nc, gate } = options;
  const ca = new X509Certificate(options.caPem);
  await ensureNatsStream(nc);
  const jsm = await nc.jetstreamManager();
  const durable = gate.id;
  try {
    await jsm.consumers.info(NATS_STREAM, durable);
  } catch {
    await jsm.consumers.add(NATS_STREAM, {
      durable_name: durable,
      filter_subject: natsSubject(gate.id),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(options.ackWaitMs ?? 30_000),
      max_deliver: -1,
    });
  }
  const consumer = await nc.jetstream().consumers.get(NATS_STREAM, durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 64 });
  const handle = async (m: JsMsg): Promise<void> => {
    let peer: NodeSpec | null = null;
    let unauthenticated = 'the message carries no valid node certificate from the network CA';
    let raw: unknown = m.string();
    try {
      const wire = JSON.parse(m.string()) as { cert?: unknown; envelope?: unknown; sig?: unknown };
      if (typeof wire.envelope === 'string') raw = wire.envelope;
      if (typeof wire.cert === 'string' && typeof wire.sig === 'string' && typeof wire.envelope === 'string') {
        const spec = verifyNodeCertificate(wire.cert, ca);
        if (verifyNodeSignature(wire.cert, wire.envelope, wire.sig)) peer = spec;
        else unauthenticated = 'the envelope signature does not verify under the sender certificate';
      }
    } catch {
      peer = null;
    }
    const reply = await gate.accept(peer, raw, unauthenticated);
    let id: string | undefined;
    try {
      id = (JSON.parse(typeof raw === 'string' ? raw : '{}') as { id?: string }).id;
    } catch {
      id = undefined;
    }
    if (reply.ok) {
      m.ack();
      options.onHandled?.(id, 'ack');
    } else if (reply.permanent) {
      m.term();
      options.onHandled?.(id, 'term');
    } else {
      m.nak(options.retryMs ?? 1000);
      options.onHandled?.(id, 'nak');
    }
  };
  const loop = (async () => {
    for await (const m of messages) {
      try {
        await handle(m);
      } catch {
        m.nak(options.retryMs ?? 1000);
      }
    }
  })();
  return {
    close: async () => {
      await messages.close();
      await loop;
    },
  };
}

export interface NatsLinkOptions {
  /** `tls://host:port` of nats-server. */
  readonly servers: string;
  readonly caPem: string;
  /** The node's certificate and key: the NATS client certificate, and the envelope signatures. */
  readonly credentials: NodeCredentials;
  /** The node's receiving side: its durable consumer is consumed into it. */
  readonly gate: Gate;
  /** Between connection attempts (default 250 ms doubling to 10 s, with jitter). */
  readonly backoff?: Backoff;
  /** Told about each failed attempt and the connection made (for the operator's log). */
  readonly onState?: (line: string) => void;
}

/**
 * A node's whole NATS side (`juki serve --transport nats`): connects with its node certificate,
 * retrying with backoff while the server is unreachable or the stream not yet made, then
 * consumes its durable consumer into the Gate; as the relay's transport it publishes to the
 * receivers' subjects. Until connected every send fails as transient (`JUKI_ERR_NET_DELIVERY`,
 * naming the server and the last connection error), so the outbox keeps the message pending,
 * visible in `juki net pending`, and delivers it once connected: nothing is dropped.
 */
export class NatsLink implements Transport {
  readonly #o: NatsLinkOptions;
  #nc: NatsConnection | undefined;
  #transport: NatsTransport | undefined;
  #receiver: NatsReceiver | undefined;
  #lastError = 'not connected yet';
  #closed = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #ready: Promise<void>;
  #resolveReady!: () => void;

  constructor(options: NatsLinkOptions) {
    this.#o = options;
    this.#ready = new Promise((r) => (this.#resolveReady = r));
  }

  /** Start connecting (in the background); `ready()` resolves once the receiver consumes. */
  start(): void {
    this.#loop ??= this.#run();
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /** Whether the receiver consumes, and the last connection error if not. */
  get state(): { readonly connected: boolean; readonly lastError?: string } {
    return this.#receiver ? { connected: true } : { connected: false, lastError: this.#lastError };
  }

  async #run(): Promise<void> {
    const backoff = this.#o.backoff ?? { baseMs: 250, maxMs: 10_000 };
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        this.#nc ??= await connectNats({ servers: this.#o.servers, caPem: this.#o.caPem, credentials: this.#o.credentials, name: nodeId(this.#o.credentials.spec) });
        this.#transport ??= new NatsTransport(this.#nc, this.#o.credentials);
        if (this.#closed) return;
        this.#receiver = await startNatsReceiver({ nc: this.#nc, caPem: this.#o.caPem, gate: this.#o.gate });
        this.#o.onState?.(`nats: connected to ${this.#o.servers}; consuming ${natsSubject(this.#o.gate.id)}`);
        this.#resolveReady();
        return;
      } catch (e) {
        this.#lastError = (e as Error).message;
        const wait = backoffDelay(attempt, Math.random, backoff);
        this.#o.onState?.(`nats: ${this.#o.servers}: ${this.#lastError}; retrying in ${wait} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  async send(envelope: Envelope): Promise<Acknowledgement> {
    if (!this.#transport) throw transientFailure(`nats: ${this.#o.servers}: not connected (${this.#lastError})`);
    return this.#transport.send(envelope);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#loop;
    await this.#receiver?.close().catch(() => undefined);
    await this.#nc?.close().catch(() => undefined);
  }
}
