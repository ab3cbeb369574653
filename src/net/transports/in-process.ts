/**
 * The in-process transport of the embedded default: nodes in one process, no sockets, the same
 * identity rules. A node connects with its certificate, which the network verifies against the
 * CA once, exactly as a TLS handshake would; every message then reaches the receiver's Gate
 * with that identity (or null, for a missing or invalid certificate), and the envelope travels
 * as its canonical wire text, so nothing but bytes crosses between nodes.
 */
import { X509Certificate } from 'node:crypto';
import { encodeEnvelope, type Envelope } from '../envelope.ts';
import type { Gate } from '../gate.ts';
import type { Receipt } from '../inbox.ts';
import { verifyNodeCertificate } from '../pki.ts';
import type { NodeSpec } from '../roles.ts';
import { permanentFailure, transientFailure, type Transport } from '../transport.ts';

export class InProcessNetwork {
  readonly #ca: X509Certificate;
  readonly #gates = new Map<string, Gate>();
  readonly #now: () => Date;

  constructor(caCertPem: string, options: { now?: () => Date } = {}) {
    this.#ca = new X509Certificate(caCertPem);
    this.#now = options.now ?? (() => new Date());
  }

  /** Make a node reachable; returns a function that detaches it (the node went down). */
  attach(gate: Gate): () => void {
    this.#gates.set(gate.id, gate);
    return () => {
      if (this.#gates.get(gate.id) === gate) this.#gates.delete(gate.id);
    };
  }

  /**
   * A connection presenting `certPem` (a node certificate, or undefined for none). The peer
   * identity is settled here, once, like a handshake: an invalid certificate gives a
   * connection whose every message the receivers refuse.
   */
  connect(certPem: string | undefined): Transport {
    let peer: NodeSpec | null = null;
    if (certPem !== undefined) {
      try {
        peer = verifyNodeCertificate(certPem, this.#ca, this.#now());
      } catch {
        peer = null;
      }
    }
    let closed = false;
    return {
      send: async (envelope: Envelope): Promise<Receipt> => {
        if (closed) throw transientFailure('in-process: connection closed');
        const gate = this.#gates.get(envelope.to);
        if (!gate) throw transientFailure(`in-process: ${envelope.to} is not reachable`);
        const reply = await gate.accept(peer, encodeEnvelope(envelope));
        if (reply.ok) return reply.receipt;
        throw reply.permanent ? permanentFailure(reply.code === 'JUKI_ERR_NET_DELIVERY' ? 'JUKI_ERR_NET_DENIED' : reply.code, `${envelope.to}: ${reply.message}`) : transientFailure(`${envelope.to}: ${reply.message}`);
      },
      close: async () => {
        closed = true;
      },
    };
  }
}
