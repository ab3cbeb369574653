/**
 * The JPKI certification authority: the only holder of the JPKI area's CA keys (R5.1).
 *
 * Hierarchy, per certificate kind (auth = 利用者証明用, sign = 署名用):
 *   <kind>-root  self-signed root CA            (key `<kind>-root-<hex>` in the CA key store)
 *   <kind>-ca    issuing CA, signed by the root  (issues the cards' certificates, signs CRLs and OCSP)
 *
 * The card makes its own key pair (the card is the key-pair generation device, R5.2.1); a
 * counter relays the public key (SubjectPublicKeyInfo DER) here and writes the returned
 * certificate to the card. No API of this class takes or returns a private key.
 *
 * Every issuance, revocation and hold release is recorded in `jpki_certificates` and the
 * audit log in one transaction.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Actor, AuditLog } from '../audit/index.ts';
import { isUniqueViolation, type Database, type Schema } from '../db/index.ts';
import { JukiError, invalid } from '../util/index.ts';
import { buildCertificate, caUrls, certificateParts, issuingExtensions, leafExtensions, nameDer, rootExtensions, type CaUrls } from './certificate.ts';
import { buildCrl, type CrlEntry } from './crl.ts';
import { b64, keyIdentifier, newSerial, serialHex, unb64, wholeSeconds } from './der.ts';
import {
  CA_IDS, DEFAULT_ORGANIZATION, DEFAULT_VALIDITY, basicFourSan, caIdOf, caName, checkCardPublicKey, checkCardSerial,
  checkOrganization, encodeBasicFour, leafName, type CaId, type CaTier, type CertificateKind, type SignHolder, type ValidityDays,
} from './profile.ts';
import { CARD_CAUSES, REASON_FOR_CAUSE, isRevocationReason, type CardCause, type CertificateStatus, type RevocationReason } from './revocation.ts';
import type { SigningKeyStore } from './signing-keys.ts';

export interface JpkiAuthorityOptions {
  readonly database: Database;
  /** Where the CA keys live (software or PKCS#11). */
  readonly keys: SigningKeyStore;
  readonly audit: AuditLog;
  /** Base URL of this CA's HTTP plugin (http.ts), written into AIA and CDP: `http://jpki.example.jp/jpki`. */
  readonly baseUrl: string;
  /** The O of every CA name (default `JPKI-juki`; never `JPKI`). */
  readonly organization?: string;
  readonly validityDays?: Partial<ValidityDays>;
  /** How long a CRL is valid (nextUpdate - thisUpdate), in hours; default 24. */
  readonly crlHours?: number;
  readonly now?: () => Date;
}

/** A CA as the authority holds it in memory. */
export interface CaInfo {
  readonly id: CaId;
  readonly kind: CertificateKind;
  readonly tier: CaTier;
  readonly keyLabel: string;
  readonly der: Uint8Array;
  readonly serial: string;
  /** Subject Name DER, exactly as in the certificate. */
  readonly subject: Uint8Array;
  readonly spki: Uint8Array;
  readonly keyId: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface IssueOptions {
  /** Who asked (default: this node itself). A counter relaying for a municipality passes `{ kind: 'node', id }`. */
  readonly actor?: Actor;
  /** Cap the validity, e.g. at the card's own expiry. */
  readonly notAfter?: Date;
}

/** What a counter writes to the card: the certificate and its issuing CA's certificate. */
export interface IssuedCertificate {
  /** Upper-case hex. */
  readonly serial: string;
  readonly kind: CertificateKind;
  readonly caId: CaId;
  readonly cardSerial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER, `30 82 LL LL ...` (EF `000A` auth / `0001` sign). */
  readonly der: Uint8Array;
  /** The issuing CA's certificate (EF `000B` auth / `0002` sign). */
  readonly caCertificate: Uint8Array;
}

export interface CertificateRecord {
  readonly serial: string;
  readonly kind: CertificateKind;
  readonly caId: CaId;
  readonly cardSerial: string;
  readonly status: 'good' | 'revoked';
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly revokedAt: Date | null;
  readonly reason: RevocationReason | null;
  readonly der: Uint8Array;
}

/** One certificate whose status a revocation or release changed. */
export interface StatusChange {
  readonly serial: string;
  readonly kind: CertificateKind;
  readonly caId: CaId;
  readonly status: 'good' | 'revoked';
  readonly reason: RevocationReason | null;
  readonly revokedAt: Date | null;
}

const SYSTEM: Actor = { kind: 'system' };
const DAY = 86_400_000;

export class JpkiAuthority {
  readonly keys: SigningKeyStore;
  readonly urls: CaUrls;
  readonly organization: string;
  readonly #database: Database;
  readonly #audit: AuditLog;
  readonly #validity: ValidityDays;
  readonly #crlHours: number;
  readonly #now: () => Date;
  readonly #cas = new Map<CaId, CaInfo>();

  private constructor(options: JpkiAuthorityOptions) {
    this.#database = options.database;
    this.keys = options.keys;
    this.#audit = options.audit;
    this.urls = caUrls(checkBaseUrl(options.baseUrl));
    this.organization = checkOrganization(options.organization ?? DEFAULT_ORGANIZATION);
    this.#validity = { ...DEFAULT_VALIDITY, ...options.validityDays };
    for (const [k, v] of Object.entries(this.#validity)) {
      if (!Number.isInteger(v) || v < 1 || v > 40 * 366) throw invalid(`validityDays.${k}`, `expected whole days from 1 to ${40 * 366}, got ${v}`);
    }
    this.#crlHours = options.crlHours ?? 24;
    if (!Number.isInteger(this.#crlHours) || this.#crlHours < 1 || this.#crlHours > 24 * 31) throw invalid('crlHours', `expected whole hours from 1 to 744, got ${this.#crlHours}`);
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Open the authority on the `jpki` node's database: load its CAs, creating any that are
   * missing (key pair generated in the key store, certificate issued, both audited).
   */
  static async open(options: JpkiAuthorityOptions): Promise<JpkiAuthority> {
    const authority = new JpkiAuthority(options);
    await authority.#load();
    for (const id of CA_IDS) if (!authority.#cas.has(id)) await authority.#createCa(id);
    return authority;
  }

  /** The clock every certificate, CRL and OCSP response of this authority is dated by. */
  now(): Date {
    return this.#now();
  }

  /** A CA by id. */
  ca(id: CaId): CaInfo {
    const ca = this.#cas.get(id);
    if (!ca) throw new JukiError('JUKI_ERR_NOT_FOUND', `jpki: no CA ${JSON.stringify(id)}`);
    return ca;
  }

  /** The issuing CAs (those that sign end-entity certificates, CRLs of them and OCSP responses). */
  issuingCas(): CaInfo[] {
    return [this.ca('auth-ca'), this.ca('sign-ca')];
  }

  /**
   * Issue a user-authentication (利用者証明用) certificate for a key made on the card.
   * Subject `CN=<serial>, C=JP`; no subjectAltName; nothing about the holder (R5.2.2).
   */
  async issueAuthCertificate(cardPublicKey: Uint8Array, holder: { readonly cardSerial: string }, options: IssueOptions = {}): Promise<IssuedCertificate> {
    const spki = checkCardPublicKey(cardPublicKey);
    if (holder === null || typeof holder !== 'object') throw invalid('holder', `expected an object, got ${holder === null ? 'null' : typeof holder}`);
    const cardSerial = checkCardSerial(holder.cardSerial);
    return this.#issue('auth', spki, cardSerial, undefined, options);
  }

  /**
   * Issue a signature (署名用) certificate for a key made on the card, carrying the holder's
   * basic four items (name, sex, birth date, address, and substitutes if given) as
   * subjectAltName otherNames under 1.2.392.200149.8.5.5.x.
   */
  async issueSignCertificate(cardPublicKey: Uint8Array, holder: SignHolder, options: IssueOptions = {}): Promise<IssuedCertificate> {
    const spki = checkCardPublicKey(cardPublicKey);
    const items = encodeBasicFour(holder, this.#now());
    return this.#issue('sign', spki, holder.cardSerial, basicFourSan(items), options);
  }

  async #issue(kind: CertificateKind, spki: Uint8Array, cardSerial: string, san: Uint8Array | undefined, options: IssueOptions): Promise<IssuedCertificate> {
    const ca = this.ca(caIdOf(kind, 'issuing'));
    const notBefore = wholeSeconds(this.#now());
    let notAfter = new Date(notBefore.getTime() + this.#validity[kind] * DAY);
    if (options.notAfter !== undefined) {
      if (!(options.notAfter instanceof Date) || Number.isNaN(options.notAfter.getTime())) throw invalid('notAfter', 'expected a Date');
      if (options.notAfter <= notBefore) throw invalid('notAfter', `expected a time after now (${notBefore.toISOString()}), got ${options.notAfter.toISOString()}`);
      if (options.notAfter < notAfter) notAfter = wholeSeconds(options.notAfter);
    }
    // A certificate never outlives its issuer (RFC 5280 §6.1.3 would reject it then anyway).
    if (notAfter > ca.notAfter) notAfter = ca.notAfter;
    const actor = options.actor ?? SYSTEM;
    // A serial collision (126 random bits) is practically impossible; if the unique key ever
    // reports one, sign again with a fresh serial rather than fail the card's issuance.
    for (let attempt = 1; ; attempt++) {
      const serial = newSerial();
      const hex = serialHex(serial);
      const der = await buildCertificate({
        serial, issuer: ca.subject, subject: nameDer(leafName(hex)), notBefore, notAfter, spki,
        extensions: leafExtensions(kind, spki, ca.spki, ca.id, this.urls, san), keys: this.keys, signerLabel: ca.keyLabel,
      });
      try {
        await this.#database.transaction(async (trx) => {
          await trx.insertInto('jpki_certificates').values({
            serial: hex, ca_id: ca.id, kind, card_serial: cardSerial, status: 'good',
            not_before: notBefore.toISOString(), not_after: notAfter.toISOString(), revoked_at: null, revocation_reason: null,
            der: b64(der), issued_at: this.#now().toISOString(),
          }).execute();
          await this.#audit.append(trx, {
            type: 'jpki.certificate.issued', actor, subject: { kind: 'card', id: cardSerial }, details: { kind, serial: hex, ca: ca.id },
          });
        });
      } catch (e) {
        if (isUniqueViolation(e) && attempt < 3) continue;
        throw e;
      }
      return { serial: hex, kind, caId: ca.id, cardSerial, notBefore, notAfter, der, caCertificate: ca.der.slice() };
    }
  }

  /**
   * Revoke every certificate issued for a card because the card was suspended
   * (certificateHold), abolished (cessationOfOperation) or reported lost (keyCompromise).
   * Returns the certificates whose status changed; repeating a revocation changes nothing.
   */
  async revokeForCard(cardSerial: string, cause: CardCause, options: { readonly actor?: Actor } = {}): Promise<StatusChange[]> {
    checkCardSerial(cardSerial);
    if (!(CARD_CAUSES as readonly string[]).includes(cause)) throw invalid('cause', `expected one of ${CARD_CAUSES.join(', ')}, got ${JSON.stringify(cause)}`);
    const reason = REASON_FOR_CAUSE[cause];
    const actor = options.actor ?? SYSTEM;
    const now = wholeSeconds(this.#now());
    return this.#database.transaction(async (trx) => {
      const rows = await this.#lockCard(trx, cardSerial);
      const changed: StatusChange[] = [];
      for (const row of rows) {
        let revokedAt: string;
        if (row.status === 'good') revokedAt = now.toISOString();
        // A hold may become a final revocation (RFC 5280 §5.3.1); the original time stays.
        else if (row.revocation_reason === 'certificateHold' && reason !== 'certificateHold') revokedAt = row.revoked_at!;
        else continue;
        await trx.updateTable('jpki_certificates')
          .set({ status: 'revoked', revoked_at: revokedAt, revocation_reason: reason })
          .where('serial', '=', row.serial).execute();
        await this.#bumpRevision(trx, row.ca_id);
        await this.#audit.append(trx, {
          type: 'jpki.certificate.revoked', actor, subject: { kind: 'card', id: cardSerial },
          details: { kind: row.kind, serial: row.serial, ca: row.ca_id, reason, cause },
        });
        changed.push({ serial: row.serial, kind: row.kind as CertificateKind, caId: row.ca_id as CaId, status: 'revoked', reason, revokedAt: new Date(revokedAt) });
      }
      return changed;
    });
  }

  /**
   * Lift the hold on a suspended card's certificates (the suspension was cancelled): they are
   * good again and leave the next CRL (a full CRL simply omits them, RFC 5280 §5.3.1).
   */
  async releaseHoldForCard(cardSerial: string, options: { readonly actor?: Actor } = {}): Promise<StatusChange[]> {
    checkCardSerial(cardSerial);
    const actor = options.actor ?? SYSTEM;
    return this.#database.transaction(async (trx) => {
      const rows = await this.#lockCard(trx, cardSerial);
      const changed: StatusChange[] = [];
      for (const row of rows) {
        if (row.status !== 'revoked' || row.revocation_reason !== 'certificateHold') continue;
        await trx.updateTable('jpki_certificates')
          .set({ status: 'good', revoked_at: null, revocation_reason: null })
          .where('serial', '=', row.serial).execute();
        await this.#bumpRevision(trx, row.ca_id);
        await this.#audit.append(trx, {
          type: 'jpki.certificate.released', actor, subject: { kind: 'card', id: cardSerial },
          details: { kind: row.kind, serial: row.serial, ca: row.ca_id },
        });
        changed.push({ serial: row.serial, kind: row.kind as CertificateKind, caId: row.ca_id as CaId, status: 'good', reason: null, revokedAt: null });
      }
      return changed;
    });
  }

  async #lockCard(trx: Transaction<Schema>, cardSerial: string) {
    let q = trx.selectFrom('jpki_certificates')
      .select(['serial', 'ca_id', 'kind', 'status', 'revoked_at', 'revocation_reason'])
      .where('card_serial', '=', cardSerial)
      .orderBy('serial');
    // Two revocations of one card must not interleave (SQLite write transactions are exclusive already).
    if (this.#database.dialect === 'postgres') q = q.forUpdate();
    return q.execute();
  }

  async #bumpRevision(trx: Transaction<Schema>, caId: string): Promise<void> {
    await trx.updateTable('jpki_cas').set((eb) => ({ revision: eb('revision', '+', 1) })).where('ca_id', '=', caId).execute();
  }

  /** Every certificate issued for a card, oldest serial first. */
  async certificatesForCard(cardSerial: string): Promise<CertificateRecord[]> {
    checkCardSerial(cardSerial);
    const rows = await this.#database.db.selectFrom('jpki_certificates').selectAll().where('card_serial', '=', cardSerial).orderBy('issued_at').orderBy('serial').execute();
    return rows.map(recordOf);
  }

  /** The status of the certificate `serial` (hex) issued by CA `caId`. */
  async status(caId: CaId, serial: string): Promise<CertificateStatus> {
    const row = await this.#database.db.selectFrom('jpki_certificates')
      .select(['status', 'revoked_at', 'revocation_reason'])
      .where('ca_id', '=', caId).where('serial', '=', serial.toUpperCase()).executeTakeFirst();
    if (!row) return { status: 'unknown' };
    if (row.status === 'revoked' && isRevocationReason(row.revocation_reason)) {
      return { status: 'revoked', revokedAt: new Date(row.revoked_at!), reason: row.revocation_reason };
    }
    return { status: 'good' };
  }

  /**
   * The current CRL of a CA (DER). A stored CRL is reused while it reflects every revocation
   * (same revision) and is within the first half of its validity; otherwise a new one is
   * issued with the next CRL number (RFC 5280 §5.2.3: monotonically increasing).
   */
  async crl(caId: CaId): Promise<Uint8Array> {
    const ca = this.ca(caId);
    const now = this.#now();
    for (let attempt = 1; ; attempt++) {
      const latest = await this.#database.db.selectFrom('jpki_crls').selectAll().where('ca_id', '=', caId).orderBy('crl_number', 'desc').limit(1).executeTakeFirst();
      const head = await this.#database.db.selectFrom('jpki_cas').select('revision').where('ca_id', '=', caId).executeTakeFirstOrThrow();
      if (latest && latest.revision === head.revision) {
        const thisUpdate = new Date(latest.this_update).getTime();
        const nextUpdate = new Date(latest.next_update).getTime();
        if (now.getTime() < thisUpdate + (nextUpdate - thisUpdate) / 2) return unb64(latest.der);
      }
      const number = latest ? Number(latest.crl_number) + 1 : 1;
      const thisUpdate = wholeSeconds(now);
      const nextUpdate = new Date(thisUpdate.getTime() + this.#crlHours * 3_600_000);
      const rows = await this.#database.db.selectFrom('jpki_certificates')
        .select(['serial', 'revoked_at', 'revocation_reason'])
        .where('ca_id', '=', caId).where('status', '=', 'revoked')
        // An expired certificate may leave the CRL (RFC 5280 §3.3).
        .where('not_after', '>=', thisUpdate.toISOString())
        .orderBy('serial').execute();
      const entries: CrlEntry[] = rows.filter((r) => isRevocationReason(r.revocation_reason)).map((r) => ({
        serial: r.serial, revokedAt: new Date(r.revoked_at!), reason: r.revocation_reason as RevocationReason,
      }));
      const der = await buildCrl({
        issuer: ca.subject, issuerSpki: ca.spki, number, thisUpdate, nextUpdate, entries, keys: this.keys, signerLabel: ca.keyLabel,
      });
      try {
        await this.#database.db.insertInto('jpki_crls').values({
          ca_id: caId, crl_number: number, this_update: thisUpdate.toISOString(), next_update: nextUpdate.toISOString(),
          revision: head.revision, der: b64(der),
        }).execute();
        return der;
      } catch (e) {
        // Another request issued this number first: use (or supersede) that one.
        if (isUniqueViolation(e) && attempt < 5) continue;
        throw e;
      }
    }
  }

  async #load(): Promise<void> {
    const rows = await this.#database.db.selectFrom('jpki_cas').selectAll().execute();
    for (const row of rows) {
      if (!(CA_IDS as readonly string[]).includes(row.ca_id)) continue;
      const der = unb64(row.der);
      const parts = certificateParts(der);
      this.#cas.set(row.ca_id as CaId, {
        id: row.ca_id as CaId, kind: row.kind as CertificateKind, tier: row.tier as CaTier, keyLabel: row.key_label, der,
        serial: parts.serial, subject: parts.subject, spki: parts.spki, keyId: keyIdentifier(parts.spki),
        notBefore: parts.notBefore, notAfter: parts.notAfter,
      });
    }
  }

  async #createCa(id: CaId): Promise<void> {
    const [kind, tierPart] = id.split('-') as [CertificateKind, string];
    const tier: CaTier = tierPart === 'root' ? 'root' : 'issuing';
    const label = `jpki-${id}-${randomBytes(4).toString('hex')}`;
    const spki = await this.keys.generate(label);
    const nameText = caName(kind, tier, this.organization);
    const subject = nameDer(nameText);
    const notBefore = wholeSeconds(this.#now());
    const serial = newSerial();
    let der: Uint8Array;
    if (tier === 'root') {
      const notAfter = new Date(notBefore.getTime() + this.#validity.root * DAY);
      der = await buildCertificate({
        serial, issuer: subject, subject, notBefore, notAfter, spki, extensions: rootExtensions(spki), keys: this.keys, signerLabel: label,
      });
    } else {
      const root = this.ca(caIdOf(kind, 'root'));
      let notAfter = new Date(notBefore.getTime() + this.#validity.issuing * DAY);
      if (notAfter > root.notAfter) notAfter = root.notAfter;
      der = await buildCertificate({
        serial, issuer: root.subject, subject, notBefore, notAfter, spki,
        extensions: issuingExtensions(kind, spki, root.spki, root.id, this.urls), keys: this.keys, signerLabel: root.keyLabel,
      });
    }
    const parts = certificateParts(der);
    try {
      await this.#database.transaction(async (trx) => {
        await trx.insertInto('jpki_cas').values({
          ca_id: id, kind, tier, key_label: label, subject: rfc4514(nameText), serial: parts.serial,
          not_before: parts.notBefore.toISOString(), not_after: parts.notAfter.toISOString(), der: b64(der),
          created_at: this.#now().toISOString(), revision: 0,
        }).execute();
        await this.#audit.append(trx, {
          type: 'jpki.ca.created', actor: SYSTEM, details: { ca: id, serial: parts.serial, subjectName: rfc4514(nameText), store: this.keys.description },
        });
      });
    } catch (e) {
      // Another process created this CA at the same moment: use its record (our key stays unused).
      if (!isUniqueViolation(e)) throw e;
      this.#cas.clear();
      await this.#load();
      return;
    }
    this.#cas.set(id, {
      id, kind, tier, keyLabel: label, der, serial: parts.serial, subject: parts.subject, spki, keyId: keyIdentifier(spki),
      notBefore: parts.notBefore, notAfter: parts.notAfter,
    });
  }
}

function recordOf(row: Schema['jpki_certificates']): CertificateRecord {
  return {
    serial: row.serial, kind: row.kind as CertificateKind, caId: row.ca_id as CaId, cardSerial: row.card_serial,
    status: row.status === 'revoked' ? 'revoked' : 'good', notBefore: new Date(row.not_before), notAfter: new Date(row.not_after),
    revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
    reason: isRevocationReason(row.revocation_reason) ? row.revocation_reason : null,
    der: unb64(row.der),
  };
}

/** The DER-order name string printed the RFC 4514 way (most specific first). */
function rfc4514(derOrder: string): string {
  return derOrder.split(', ').reverse().join(', ');
}

function checkBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('baseUrl', `expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid('baseUrl', `expected an http:// or https:// URL, got ${JSON.stringify(url)}`);
  if (parsed.search || parsed.hash) throw invalid('baseUrl', `expected a URL without query or fragment, got ${JSON.stringify(url)}`);
  return url.replace(/\/+$/, '');
}
