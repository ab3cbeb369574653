/**
 * One transport interface, three implementations (transports/in-process.ts, https.ts,
 * nats.ts), one contract test suite (test/net/transport-contract.test.ts). A transport moves
 * an envelope to the node it is addressed to and returns that node's acknowledgement; the
 * receiving side establishes the peer's identity its own way (a verified certificate object
 * in-process, the TLS client certificate over HTTPS, a signature under a CA-issued certificate
 * over NATS) and hands it to the same Gate.
 */
import { JukiError } from '../util/index.ts';
import type { Envelope } from './envelope.ts';
import type { Receipt } from './inbox.ts';

/**
 * What a send's success means: the receiver's inbox receipt (in-process, HTTPS), or `queued`:
 * a durable broker (NATS JetStream) stored it for the receiver, which acknowledges to the broker
 * after its own inbox commit.
 */
export type Acknowledgement = Receipt | 'queued';

export interface Transport {
  /**
   * Deliver `envelope` to `envelope.to`. Resolves once the receiver acknowledged (its inbox
   * holds the message); rejects with a JukiError: JUKI_ERR_NET_DENIED / JUKI_ERR_INVALID_INPUT
   * with `details.permanent` (retrying cannot help), or JUKI_ERR_NET_DELIVERY (retry later).
   */
  send(envelope: Envelope): Promise<Acknowledgement>;
  /**
   * Optional: deliver several envelopes, all addressed to the same node, in one exchange (HTTPS:
   * one request, applied by the receiver in one inbox transaction). One result per envelope, in
   * the same order, each meaning exactly what `send` would have resolved or rejected with for it:
   * a message refused by the receiver is refused alone, the others are acknowledged. Rejects
   * only when nothing can be said of any of them (then each is as a transient failure).
   */
  sendBatch?(envelopes: readonly Envelope[]): Promise<DeliveryResult[]>;
  close(): Promise<void>;
}

/** The outcome of one envelope of a batch: its acknowledgement, or the error `send` would throw. */
export type DeliveryResult = { readonly ok: true; readonly ack: Acknowledgement } | { readonly ok: false; readonly error: JukiError };

/** A refusal the sender must not retry (denied, malformed). */
export function permanentFailure(code: 'JUKI_ERR_NET_DENIED' | 'JUKI_ERR_INVALID_INPUT', message: string): JukiError {
  return new JukiError(code, message, { permanent: true });
}

/** A failure worth retrying (unreachable, no acknowledgement, receiver fault). */
export function transientFailure(message: string): JukiError {
  return new JukiError('JUKI_ERR_NET_DELIVERY', message, { permanent: false });
}
