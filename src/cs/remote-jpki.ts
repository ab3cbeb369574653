/**
 * The jpki role as a CS reaches it over the network (`juki serve`): `JpkiRelay` over HTTPS
 * with mutual TLS to the jpki node (src/jpki/http-relay.ts has the wire format). The
 * personalisation of a card's JPKI area is driven by the jpki node, whose SCP03 session stays
 * there: this side starts a session with the holder's data, then relays each command the jpki
 * node answers to the card on the terminal's reader and posts the card's answer back, until the
 * jpki node says it is done. The CS never holds a JPKI key; the commands and answers it relays
 * are protected by the JPKI domain's channel (C-MAC, C-DECRYPTION, R-MAC, R-ENC).
 */
import { JPKI_RELAY_PATHS } from '../jpki/index.ts';
import { mtlsJson, mtlsPool, type NodeCredentials } from '../net/index.ts';
import type { CardTransport } from '../reader/index.ts';
import { ERROR_CODES, fromHex, JukiError, toHex, type ErrorCode } from '../util/index.ts';
import type { JpkiRelay } from './card-steps.ts';

export interface HttpsJpkiRelayOptions {
  /** `https://host:port` of the jpki node's Juki-net listener. */
  readonly address: string;
  /** The jpki node's id (default `jpki`): the server's certificate must name it. */
  readonly node?: string;
  readonly caPem: string;
  /** This CS's node certificate and key. */
  readonly credentials: Pick<NodeCredentials, 'certPem' | 'keyPem'>;
  /** Per request, ms (default 60000: a step may include the CA signing a certificate). */
  readonly timeoutMs?: number;
  /** Commands relayed per personalisation before giving up (default 64). */
  readonly maxSteps?: number;
}

type Step = { session?: string; command?: string; done?: boolean; cardSerial?: string; sign?: boolean };

/** `JpkiRelay` over mutual TLS to the jpki node. */
export class HttpsJpkiRelay implements JpkiRelay {
  readonly #node: string;
  readonly #pool;
  readonly #maxSteps: number;

  constructor(o: HttpsJpkiRelayOptions) {
    this.#node = o.node ?? 'jpki';
    this.#maxSteps = o.maxSteps ?? 64;
    this.#pool = mtlsPool({ address: o.address, expect: this.#node, caPem: o.caPem, credentials: o.credentials, timeoutMs: o.timeoutMs ?? 60_000 });
  }

  async #post<T>(path: string, body: unknown): Promise<T> {
    const a = await mtlsJson(this.#pool, this.#node, { method: 'POST', path, body });
    const j = (a.json ?? {}) as Record<string, unknown>;
    if (a.status === 200 && a.json !== undefined) return j as T;
    const code: ErrorCode = typeof j['code'] === 'string' && j['code'] in ERROR_CODES ? (j['code'] as ErrorCode) : 'JUKI_ERR_NET_DELIVERY';
    const details = typeof j['details'] === 'object' && j['details'] !== null ? (j['details'] as Record<string, unknown>) : {};
    throw new JukiError(code, `${this.#node}: ${typeof j['message'] === 'string' ? j['message'] : `HTTP ${a.status} ${a.text.slice(0, 200)}`}`, { ...details, node: this.#node, status: a.status });
  }

  async personalise(transport: CardTransport, holder?: { name: string; sex: 'male' | 'female'; birthDate: string; address: string }): Promise<{ cardSerial: string; sign: boolean }> {
    let r = await this.#post<Step>(JPKI_RELAY_PATHS.start, holder ? { holder } : {});
    for (let steps = 0; ; steps++) {
      if (r.done) {
        if (typeof r.cardSerial !== 'string') throw new JukiError('JUKI_ERR_NET_DELIVERY', `${this.#node}: a finished personalisation without its card serial`);
        return { cardSerial: r.cardSerial, sign: r.sign === true };
      }
      if (typeof r.session !== 'string' || typeof r.command !== 'string') throw new JukiError('JUKI_ERR_NET_DELIVERY', `${this.#node}: an answer with neither a command nor a result`);
      if (steps >= this.#maxSteps) throw new JukiError('JUKI_ERR_JPKI_RELAY_SESSION', `${this.#node}: more than ${this.#maxSteps} commands for one JPKI area; stopped relaying (the session expires there)`);
      const answer = await transport.transmit(fromHex(r.command, 'command'));
      r = await this.#post<Step>(JPKI_RELAY_PATHS.step.replace(':session', r.session), { response: toHex(answer) });
    }
  }

  async revokeForCard(cardSerial: string, cause: 'suspended' | 'abolished' | 'lost'): Promise<number> {
    const r = await this.#post<{ certificates?: unknown }>(JPKI_RELAY_PATHS.revoke, { cardSerial, cause });
    return typeof r.certificates === 'number' ? r.certificates : 0;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
