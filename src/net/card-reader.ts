/**
 * The national center's card-reading service (R4.2.1, 技術的基準 第4の2(1); docs/network.md
 * "Agency verification with the card"). Only the national center holds the basic area's master
 * keys (ARCHITECTURE.md, "Who holds which keys"), so only it can open the basic area's SCP03
 * channel. An agency's terminal relays the APDUs; it can neither read nor forge them.
 *
 *   agency terminal (local)  00 A4 04 0C 0A D392F0004A554B490001 ; 00 20 00 81 04 <PIN from the pad>
 *   national, through the terminal's relay (no SELECT: the verified PIN stays):
 *                            80 50 30 00 08 <host challenge> 00          → IU answer (serial, card cryptogram)
 *                            84 82 33 00 10 <host cryptogram> <C-MAC>    → 90 00   (C-MAC, C-DEC, R-MAC, R-ENC)
 *                            04 B0 82 00 08 <C-MAC> 00                   → R-ENC(resident code) R-MAC 90 00
 *                            04 B0 83 00 08 <C-MAC> 00 ; 04 B0 84 00 08 <C-MAC> 00   card number, issuer
 *
 * All three conditions of R4.2.1 hold before any basic-area byte leaves the card: the holder's
 * PIN (the card answers 69 82 without it), mutual authentication (the card cryptogram is checked
 * here with keys diversified from the card's serial; the card checks the host cryptogram), and
 * the access check: the card's own access rule, and here the requester, decided by its
 * certificate (never a field), deny by default: an agency node, for an affair of the catalogue
 * that names that agency (the agencies' statutory affairs are what they verify cards for,
 * R4.1.3). Every decision and every read is audited (`net.card.read`) at the national center.
 *
 * This file imports no reader or terminal code: the relay is anything with `connect` and
 * `transmit` (a `TerminalAgentApi`: the in-process `Terminal`, or an `HttpsTerminalClient` to a
 * terminal that admits the national center's certificate).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/index.ts';
import { diversifyKeySet, KEY_DOMAINS, Scp03HostChannel, wipe, type CommandFields, type KeyStore, type Scp03StaticKeys } from '../crypto/index.ts';
import { ERROR_CODES, JukiError, toHex, type ErrorCode } from '../util/index.ts';
import { InProcessServices } from './in-process-services.ts';
import { MtlsPools, mtlsJson } from './mtls.ts';
import type { NodeCredentials } from './pki.ts';
import { nodeId, type NodeSpec } from './roles.ts';
import { affairCatalogue, decideBody, type AffairCatalogue } from './routes/affairs.ts';

/** The basic area's key version on the card (as src/cs/key-service.ts `BASIC_KVN`). */
export const CARD_READER_BASIC_KVN = 0x30;
/** The basic-area master keys in the national center's key store (the same names as src/cs/key-service.ts `BASIC_MASTER_KEYS`). */
export const NATIONAL_BASIC_MASTER_KEYS = { enc: 'master:basic:enc', mac: 'master:basic:mac', dek: 'master:basic:dek' } as const;

/** A terminal agent's relay, as the national center needs it (structurally a `TerminalAgentApi`). */
export interface CardRelay {
  readonly terminalId: string;
  connect(reader: string): Promise<Uint8Array>;
  transmit(reader: string, apdu: Uint8Array): Promise<Uint8Array>;
}

export interface CardReadRequest {
  /** The statutory affair the agency verifies the card for. */
  readonly affair: string;
  /** The agency terminal's relay and the reader the card is in. */
  readonly relay: CardRelay;
  readonly reader: string;
  /**
   * Over HTTPS, where the national center connects to the terminal itself: the agency node the
   * national center's desk list says the terminal belongs to (null: not listed). A read through
   * a terminal of another agency, or an unlisted one, is refused like any other denial.
   * In-process (undefined) the relay is the requesting agency's own object.
   */
  readonly relayOwner?: string | null;
}

/** What the national center gives back to the agency. */
export interface CardReading {
  /** The resident code from the basic area (EF 0002, read under R-ENC). */
  readonly residentCode: string;
  /** The card's number in its issuer's books: `<issuer>-<serial>` (the serial authenticated by the channel). */
  readonly cardNumber: string;
  /** The card number written on the card (EF 0003). */
  readonly onCardNumber: string;
  /** The issuing municipality (EF 0004). */
  readonly issuer: string;
  /** The card's serial (its key diversification data, hex). */
  readonly serial: string;
}

/** The access decision of a card read, before the card is touched. */
export function decideCardRead(requester: NodeSpec | null, affair: string, catalogue: AffairCatalogue = affairCatalogue()): { allow: boolean; why: string } {
  if (requester === null) return { allow: false, why: 'R4.2.1: no certificate from the network CA; nobody else may read the basic area' };
  if (requester.role !== 'agency') {
    return { allow: false, why: `R4.2.1: card verification through the national center is for agencies; a ${requester.role} node may not ask` };
  }
  const d = decideBody({ requester, affair }, catalogue);
  return d.allow ? { allow: true, why: `R4.2.1: card verification for ${d.why}` } : { allow: false, why: d.why };
}

function encode(c: CommandFields): Uint8Array {
  if (c.data.length > 255) throw new JukiError('JUKI_ERR_INTERNAL', 'card reader: only short APDUs are built here');
  const out = [c.cla, c.ins, c.p1, c.p2];
  if (c.data.length) out.push(c.data.length, ...c.data);
  if (c.le !== undefined) out.push(c.le & 0xff);
  return Uint8Array.from(out);
}

function split(r: Uint8Array): { data: Uint8Array; sw: number } {
  if (r.length < 2) throw new JukiError('JUKI_ERR_READER', `card reader: a response of ${r.length} bytes has no status word`);
  return { data: r.subarray(0, r.length - 2), sw: (r[r.length - 2]! << 8) | r[r.length - 1]! };
}

const swHex = (sw: number) => sw.toString(16).toUpperCase().padStart(4, '0');

export interface NationalCardReaderOptions {
  /** The national center's key store, holding the basic-area masters. */
  readonly keyStore: KeyStore;
  readonly audit: AuditLog;
  readonly catalogue?: AffairCatalogue;
  readonly kvn?: number;
}

export class NationalCardReader {
  readonly #o: NationalCardReaderOptions;

  constructor(options: NationalCardReaderOptions) {
    this.#o = options;
  }

  /**
   * Read the resident code, card number and issuer of the card in `reader` for `requester`
   * (the node its certificate names). Refused (JUKI_ERR_NET_CARD_READ_DENIED, nothing sent to
   * the card) unless the decision allows; a card that refuses (no PIN: 69 82), a channel that
   * does not open (JUKI_ERR_SCP_AUTHENTICATION) or a response that fails its R-MAC
   * (JUKI_ERR_SCP_INTEGRITY) is thrown as it is. Every outcome is audited.
   */
  async read(requester: NodeSpec | null, request: CardReadRequest): Promise<CardReading> {
    const by = requester ? nodeId(requester) : 'none';
    const affair = typeof request?.affair === 'string' ? request.affair : '';
    const terminal = request?.relay?.terminalId ?? 'unknown';
    let decision = decideCardRead(requester, affair, this.#o.catalogue);
    if (decision.allow && request.relayOwner !== undefined && request.relayOwner !== by) {
      decision = {
        allow: false,
        why: request.relayOwner === null
          ? `R4.2.1: ${terminal} is not an agency desk terminal known to the national center`
          : `R4.2.1: ${terminal} is a desk terminal of ${request.relayOwner}, not of ${by}`,
      };
    }
    const base = { affair, by, terminal, why: decision.why };
    const actor = requester ? { kind: 'node' as const, id: by } : { kind: 'system' as const };
    if (!decision.allow) {
      await this.#o.audit.record({ type: 'net.card.read', actor, outcome: 'refused', reason: 'JUKI_ERR_NET_CARD_READ_DENIED', details: base });
      throw new JukiError('JUKI_ERR_NET_CARD_READ_DENIED', decision.why, { affair, by });
    }
    try {
      const reading = await this.#readCard(request.relay, request.reader);
      await this.#o.audit.record({ type: 'net.card.read', actor, details: { ...base, card: reading.cardNumber } });
      return reading;
    } catch (e) {
      const code = e instanceof JukiError ? e.code : 'JUKI_ERR_INTERNAL';
      await this.#o.audit.record({
        type: 'net.card.read', actor, outcome: 'error', reason: code,
        details: { ...base, why: `${decision.why}; the card was not read: ${e instanceof Error ? e.message : String(e)}` },
      });
      throw e;
    }
  }

  async #readCard(relay: CardRelay, reader: string): Promise<CardReading> {
    const kvn = this.#o.kvn ?? CARD_READER_BASIC_KVN;
    await relay.connect(reader);
    const store = this.#o.keyStore;
    let keys: Scp03StaticKeys | undefined;
    const channel = new Scp03HostChannel({
      level: 0x33,
      keys: (serial, cardKvn) => {
        const m = { enc: store.secretKey(NATIONAL_BASIC_MASTER_KEYS.enc), mac: store.secretKey(NATIONAL_BASIC_MASTER_KEYS.mac), dek: store.secretKey(NATIONAL_BASIC_MASTER_KEYS.dek) };
        try {
          keys = diversifyKeySet(m, serial, KEY_DOMAINS.basic, cardKvn === kvn ? kvn : kvn); // a card answering with another KVN fails the channel's own check
          return keys;
        } finally {
          wipe(m.enc, m.mac, m.dek);
        }
      },
    });
    const xmit = async (c: CommandFields) => split(await relay.transmit(reader, encode(c)));
    try {
      const iu = await xmit(channel.initializeUpdateCommand(kvn));
      const ea = await xmit(channel.onInitializeUpdateResponse(iu.data, iu.sw));
      channel.onExternalAuthenticateResponse(ea.sw);
      const serial = toHex(channel.card!.diversificationData);
      const readEf = async (sfi: number, what: string): Promise<string> => {
        const r = await xmit(channel.wrapCommand({ cla: 0x00, ins: 0xb0, p1: 0x80 | sfi, p2: 0x00, data: new Uint8Array(0), le: 0 }));
        const plain = channel.unwrapResponse(r.data, r.sw);
        if (r.sw !== 0x9000) {
          throw new JukiError('JUKI_ERR_CARD_STATUS', `card reader: reading the ${what}: the card answered ${swHex(r.sw)}${r.sw === 0x6982 ? ' (security status not satisfied: the holder\'s PIN is not verified)' : ''}`, { sw: swHex(r.sw), step: `read ${what}` });
        }
        const text = Buffer.from(plain).toString('latin1');
        wipe(plain);
        return text;
      };
      const residentCode = await readEf(2, 'resident code');
      const onCardNumber = await readEf(3, 'card number');
      const issuer = await readEf(4, 'issuing municipality');
      if (!/^\d{11}$/.test(residentCode)) throw new JukiError('JUKI_ERR_CARD_STATUS', 'card reader: the basic area holds no 11-digit resident code', { step: 'read resident code' });
      if (!/^\d{6}$/.test(issuer)) throw new JukiError('JUKI_ERR_CARD_STATUS', 'card reader: the basic area holds no 6-digit municipality code', { step: 'read issuing municipality' });
      return { residentCode, cardNumber: `${issuer}-${serial}`, onCardNumber, issuer, serial };
    } finally {
      channel.close();
      if (keys) wipe(keys.enc, keys.mac, keys.dek);
    }
  }
}

/** An agency's side of card reading: the national center reads the card in its terminal's reader. */
export interface CardReadingClient {
  read(to: string, request: CardReadRequest): Promise<CardReading>;
}

/**
 * In-process card reading (`juki up`, the scenario, tests): the national center registers its
 * reader; an agency connects with its certificate, verified against the network CA, which is
 * the identity the decision uses (as mutual TLS would give it).
 */
export class InProcessCardReading {
  readonly #readers: InProcessServices<NationalCardReader>;

  constructor(caCertPem: string) {
    this.#readers = new InProcessServices(caCertPem);
  }

  serve(node: string, reader: NationalCardReader): () => void {
    return this.#readers.serve(node, reader);
  }

  connect(certPem: string | undefined): CardReadingClient {
    const peer = this.#readers.peerOf(certPem);
    return {
      read: async (to, request) => {
        const reader = this.#readers.service(to);
        if (!reader) throw new JukiError('JUKI_ERR_NET_DELIVERY', `in-process: ${to} reads no cards here`);
        return reader.read(peer, request);
      },
    };
  }
}

/** The national center's card-reading route on its Juki-net listener (mutual TLS). */
export const CARD_READ_PATH = '/juki-net/v1/card-reads';

/** An agency desk terminal as the national center knows it (`juki serve --desks FILE`). */
export interface RemoteDesk {
  /** The agency node it belongs to, e.g. `agency-passport`. */
  readonly agency: string;
  /** The terminal's node id, `terminal-<juki terminal --id>`. */
  readonly terminal: string;
  /** `https://host:port` of its `juki terminal`. */
  readonly url: string;
}

export interface CardReadRoutesOptions {
  /** The desk terminals by node id. */
  readonly desk: (terminal: string) => RemoteDesk | undefined;
  /** The national center's own connection to a desk terminal (an HttpsTerminalClient with its node certificate). */
  readonly openRelay: (desk: RemoteDesk) => CardRelay & { close(): Promise<void> };
}

const READ_FIELDS = ['affair', 'terminal', 'reader'];

function statusOfRead(code: string): number {
  if (code === 'JUKI_ERR_NET_CARD_READ_DENIED') return 403;
  if (code === 'JUKI_ERR_INVALID_INPUT') return 400;
  if (code === 'JUKI_ERR_READER' || code === 'JUKI_ERR_TERMINAL_DENIED') return 502;
  return 409;
}

/**
 * Mount the card-reading route (HttpsReceiverOptions.routes). An agency asks, with its node
 * certificate, for the card in a reader of its desk terminal:
 *
 *   POST /juki-net/v1/card-reads  {"affair": "agency.passport-issuance", "terminal": "terminal-passport-desk-1", "reader": "desk-1"}
 *   200 CardReading     403 JUKI_ERR_NET_CARD_READ_DENIED     400 JUKI_ERR_INVALID_INPUT
 *   409 the card's or the channel's error (JUKI_ERR_CARD_STATUS, JUKI_ERR_SCP_*)     502 the terminal unreachable or refusing
 *
 * The national center then connects to that terminal itself (openRelay) and reads through its
 * relay; the decision (requester, affair, the terminal being the requester's own) comes first
 * and is audited with the read (`net.card.read`).
 */
export function cardReadRoutes(reader: NationalCardReader, o: CardReadRoutesOptions) {
  return (app: FastifyInstance, peerOf: (req: FastifyRequest) => NodeSpec | null): void => {
    app.post(CARD_READ_PATH, async (req, reply) => {
      const bad = (field: string, what: string) => reply.status(400).send({ code: 'JUKI_ERR_INVALID_INPUT', message: `card read.${field}: ${what}` });
      let body: unknown = req.body;
      if (typeof body === 'string') {
        try {
          body = JSON.parse(body);
        } catch {
          return bad('', 'expected JSON');
        }
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return bad('', 'expected an object {"affair", "terminal", "reader"}');
      const b = body as Record<string, unknown>;
      for (const k of Object.keys(b)) if (!READ_FIELDS.includes(k)) return bad(k, `unexpected field (expected ${READ_FIELDS.join(', ')})`);
      if (typeof b.affair !== 'string' || b.affair.length === 0 || b.affair.length > 100) return bad('affair', 'expected an affair id from the catalogue');
      if (typeof b.terminal !== 'string' || !/^terminal-[A-Za-z0-9][A-Za-z0-9-]{0,31}$/.test(b.terminal)) return bad('terminal', `expected a terminal node id (terminal-<id>), got ${JSON.stringify(b.terminal)}`);
      if (typeof b.reader !== 'string' || !/^[\x20-\x7e]{1,128}$/.test(b.reader)) return bad('reader', `expected the reader's name, got ${JSON.stringify(b.reader)}`);
      const terminal = b.terminal;
      const desk = o.desk(terminal);
      const unreachable = (): never => {
        throw new JukiError('JUKI_ERR_NET_CARD_READ_DENIED', `${terminal} is not a known desk terminal`);
      };
      const relay = desk ? o.openRelay(desk) : { terminalId: terminal, connect: unreachable, transmit: unreachable, close: async () => {} };
      try {
        const reading = await reader.read(peerOf(req), { affair: b.affair, relay, reader: b.reader, relayOwner: desk ? desk.agency : null });
        return reply.status(200).send(reading);
      } catch (e) {
        if (!(e instanceof JukiError)) throw e;
        return reply.status(statusOfRead(e.code)).send({ code: e.code, message: e.message });
      } finally {
        await relay.close().catch(() => undefined);
      }
    });
  };
}

export interface HttpsCardReadingOptions {
  /** This agency's certificate and key (the requester's identity). */
  readonly credentials: NodeCredentials;
  readonly caPem: string;
  readonly addressOf: (node: string) => string | undefined;
  /** Per request, ms (default 60000: the read crosses the terminal's relay several times). */
  readonly timeoutMs?: number;
}

/**
 * An agency's card reading over HTTPS (`juki serve`): asks the national center to read the card
 * in its desk terminal, naming the terminal (the relay's `terminalId`) and the reader; the
 * national center connects to that terminal itself.
 */
export class HttpsCardReadingClient implements CardReadingClient {
  readonly #pools: MtlsPools;
  readonly #timeoutMs: number;

  constructor(o: HttpsCardReadingOptions) {
    this.#timeoutMs = o.timeoutMs ?? 60_000;
    this.#pools = new MtlsPools({ caPem: o.caPem, addressOf: o.addressOf, credentials: o.credentials, timeoutMs: this.#timeoutMs });
  }

  async read(to: string, request: CardReadRequest): Promise<CardReading> {
    const { status, json, text } = await mtlsJson(this.#pools.get(to), to, {
      method: 'POST', path: CARD_READ_PATH, body: { affair: request.affair, terminal: request.relay.terminalId, reader: request.reader }, timeoutMs: this.#timeoutMs,
    });
    const o = (json ?? {}) as Record<string, unknown>;
    if (status === 200) return o as unknown as CardReading;
    if (typeof o.code === 'string' && o.code in ERROR_CODES) throw new JukiError(o.code as ErrorCode, `${to}: ${String(o.message)}`, { node: to });
    throw new JukiError('JUKI_ERR_NET_DELIVERY', `https: ${to}: ${status} ${text.slice(0, 200)}`, { node: to });
  }

  close(): Promise<void> {
    return this.#pools.close();
  }
}
