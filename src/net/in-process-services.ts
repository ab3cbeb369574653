/**
 * The in-process stand-in for a node's mutual-TLS listener (`juki up`, the scenario, tests):
 * services register under their node id, and a caller connects with its node certificate,
 * verified against the network CA, which becomes the peer the service decides by (as mutual TLS
 * would give it; an absent or invalid certificate is a null peer, refused by the service).
 */
import { X509Certificate } from 'node:crypto';
import { verifyNodeCertificate } from './pki.ts';
import type { NodeSpec } from './roles.ts';

export class InProcessServices<S> {
  readonly #ca: X509Certificate;
  readonly #services = new Map<string, S>();

  constructor(caCertPem: string) {
    this.#ca = new X509Certificate(caCertPem);
  }

  /** Register `node`'s service; returns the function that unregisters it. */
  serve(node: string, service: S): () => void {
    this.#services.set(node, service);
    return () => {
      if (this.#services.get(node) === service) this.#services.delete(node);
    };
  }

  service(node: string): S | undefined {
    return this.#services.get(node);
  }

  /** The node a caller's certificate names, or null. */
  peerOf(certPem: string | undefined): NodeSpec | null {
    if (certPem === undefined) return null;
    try {
      return verifyNodeCertificate(certPem, this.#ca);
    } catch {
      return null;
    }
  }
}
