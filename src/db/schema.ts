/**
 * The tables of a node's database, as Kysely sees them. Each concern owns its tables (named
 * with its prefix) and adds them here and in a migration.
 *
 * Conventions for both dialects: times are ISO-8601 UTC text, dates YYYY-MM-DD text, flags
 * integers 0/1, structured values JSON text, binary values base64 text.
 */
import type { ColumnType } from 'kysely';

export interface Schema {
  register_residents: RegisterResidentsTable;
  register_history: RegisterHistoryTable;
  audit_entries: AuditEntriesTable;
  audit_heads: AuditHeadsTable;
  jpki_cas: JpkiCasTable;
  jpki_certificates: JpkiCertificatesTable;
  jpki_crls: JpkiCrlsTable;
  net_sequences: NetSequencesTable;
  net_outbox: NetOutboxTable;
  net_inbox: NetInboxTable;
  net_cursors: NetCursorsTable;
  net_card_status: NetCardStatusTable;
  net_identity_records: NetIdentityRecordsTable;
  agency_notices: AgencyNoticesTable;
  cs_staff: CsStaffTable;
  cs_login_challenges: CsLoginChallengesTable;
  cs_sessions: CsSessionsTable;
  cs_terminals: CsTerminalsTable;
  cs_lots: CsLotsTable;
  cs_stock: CsStockTable;
  cs_stock_events: CsStockEventsTable;
  cs_cards: CsCardsTable;
  cs_card_history: CsCardHistoryTable;
  cs_applications: CsApplicationsTable;
  cs_pending_issuance: CsPendingIssuanceTable;
  cs_print_jobs: CsPrintJobsTable;
  cs_card_jpki: CsCardJpkiTable;
  cs_identity_checks: CsIdentityChecksTable;
  cs_pin_notices: CsPinNoticesTable;
}

/** register: one row per resident of a municipality, current or former (除票). Migration 0001. */
export interface RegisterResidentsTable {
  municipality_code: string;
  resident_code: string;
  family_name: string;
  given_name: string;
  family_kana: string;
  given_kana: string;
  birth_date: string;
  /** `male` | `female` */
  sex: string;
  address: string;
  /** `registered` | `moved-out` | `deceased` */
  status: string;
  /** The latest change: reason (`birth`, `entry`, `move-in`, `move-out`, `move-within`, `death`) and date. */
  change_reason: string;
  change_date: string;
  /** Bumped by every change; equals the seq of the latest history row. */
  version: number;
  updated_at: string;
}

/** register: every change to a resident, in order (seq 1, 2, ...). Migration 0001. */
export interface RegisterHistoryTable {
  municipality_code: string;
  resident_code: string;
  seq: number;
  reason: string;
  change_date: string;
  /** The other municipality of a move: where a move-in came from, where a move-out goes. */
  other_municipality: string | null;
  /** The other address of a move: the previous one (move-in, move-within) or the destination (move-out). */
  other_address: string | null;
  /** The identity record after the change, as JSON. */
  record: string;
  recorded_at: string;
}

/** audit: one hash-chained entry per row, seq 1..n per node (docs/audit.md). Migration 0002. */
export interface AuditEntriesTable {
  node_id: string;
  /** bigint: SQLite returns a number, PostgreSQL a decimal string. */
  seq: ColumnType<number | string, number, number>;
  at: string;
  event_type: string;
  actor: string;
  subject: string;
  outcome: string;
  reason: string;
  details: string;
  prev_hash: string;
  hash: string;
}

/** audit: the last entry of each node's chain, locked by every append. Migration 0002. */
export interface AuditHeadsTable {
  node_id: string;
  seq: ColumnType<number | string, number, number>;
  hash: string;
}

/** jpki: one row per CA certificate (root and issuing, per kind). Migration 0003. */
export interface JpkiCasTable {
  /** `auth-root` | `auth-ca` | `sign-root` | `sign-ca` */
  ca_id: string;
  /** `auth` | `sign` */
  kind: string;
  /** `root` | `issuing` */
  tier: string;
  /** The key's label in the CA signing-key store (never the key). */
  key_label: string;
  subject: string;
  /** Serial number, upper-case hex. */
  serial: string;
  not_before: string;
  not_after: string;
  /** The certificate, DER as base64. */
  der: string;
  created_at: string;
  /** Bumped by every revocation or hold release under this CA (a CRL of an older revision is stale). */
  revision: ColumnType<number, number | undefined, number>;
}

/** jpki: one row per end-entity certificate issued. Migration 0003. */
export interface JpkiCertificatesTable {
  /** Serial number, upper-case hex (unique across the CA). */
  serial: string;
  ca_id: string;
  /** `auth` | `sign` */
  kind: string;
  /** The card the key pair was made on. */
  card_serial: string;
  /** `good` | `revoked` */
  status: string;
  not_before: string;
  not_after: string;
  revoked_at: string | null;
  /** RFC 5280 §5.3.1 reason name: `certificateHold` | `cessationOfOperation` | `keyCompromise`. */
  revocation_reason: string | null;
  der: string;
  issued_at: string;
}

/** jpki: every CRL issued, numbered per CA. Migration 0003. */
export interface JpkiCrlsTable {
  ca_id: string;
  crl_number: ColumnType<number | string, number, number>;
  this_update: string;
  next_update: string;
  /** The CA's revision the CRL was built from. */
  revision: number;
  der: string;
}

/** net: the last sequence number given per (sender, receiver, ordering key). Migration 0004. */
export interface NetSequencesTable {
  sender: string;
  receiver: string;
  ordering_key: string;
  last_seq: ColumnType<number | string, number, number>;
}

/** net: the transactional outbox, one row per message to send (docs/network.md). Migration 0004. */
export interface NetOutboxTable {
  /** The envelope's message id. */
  id: string;
  sender: string;
  receiver: string;
  type: string;
  ordering_key: string;
  seq: ColumnType<number | string, number, number>;
  created_at: string;
  /** The envelope, canonical JSON. */
  envelope: string;
  /** `pending` | `delivered` | `dead` */
  state: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  delivered_at: string | null;
}

/** net: the idempotent inbox, one row per message received (docs/network.md). Migration 0004. */
export interface NetInboxTable {
  id: string;
  sender: string;
  receiver: string;
  type: string;
  ordering_key: string;
  seq: ColumnType<number | string, number, number>;
  envelope: string;
  /** `applied` | `held` (waiting for an earlier sequence number) */
  state: string;
  received_at: string;
  applied_at: string | null;
}

/** net: per (receiver, sender, ordering key), the last sequence number applied. Migration 0004. */
export interface NetCursorsTable {
  receiver: string;
  sender: string;
  ordering_key: string;
  applied_seq: ColumnType<number | string, number, number>;
}

/** net: each card's status as last announced to this prefecture or national center. Migration 0006. */
export interface NetCardStatusTable {
  card_number: string;
  issuer: string;
  resident_code: string | null;
  /** `active` | `suspended` | `abolished` | `collected` */
  status: string;
  version: number;
  changed_at: string;
  received_from: string;
  updated_at: string;
}

/** net: identity records held by a prefecture or the national center, per (resident, municipality). Migration 0006. */
export interface NetIdentityRecordsTable {
  resident_code: string;
  municipality: string;
  version: number;
  /** `registered` | `moved-out` | `deceased` */
  status: string;
  /** Family name + given name, for queries by name, birth date and address. */
  name_key: string;
  birth_date: string;
  address: string;
  /** The identity record, JSON. */
  record: string;
  updated_at: string;
}

/** agency: the notice list (R3.2.1o): the latest status of each card this agency was told about. Migration 0006. */
export interface AgencyNoticesTable {
  card_number: string;
  issuer: string;
  resident_code: string | null;
  status: string;
  version: number;
  changed_at: string;
  received_from: string;
  received_at: string;
}

/** cs: counter staff; the operator card's serial and public key (SPKI DER, base64), never a PIN. Migration 0005. */
export interface CsStaffTable {
  staff_id: string;
  name: string;
  /** `clerk` | `supervisor` | `stock-keeper` | `administrator` */
  role: string;
  card_serial: string;
  public_key: string;
  active: number;
  created_at: string;
}

/** cs: one-time operator-card login challenges. Migration 0005. */
export interface CsLoginChallengesTable {
  challenge_id: string;
  staff_id: string;
  /** base64 */
  challenge: string;
  expires_at: string;
}

/** cs: staff sessions, by the SHA-256 of the bearer token (the token itself is never stored). Migration 0005. */
export interface CsSessionsTable {
  token_hash: string;
  staff_id: string;
  terminal_id: string | null;
  created_at: string;
  expires_at: string;
}

/** cs: counter terminals (card reader and PIN pad). Migration 0005. */
export interface CsTerminalsTable {
  terminal_id: string;
  name: string;
  reader: string;
  pin_pad: string;
  active: number;
  created_at: string;
}

/** cs: blank-card deliveries. Migration 0005. */
export interface CsLotsTable {
  lot: string;
  /** The name of the maker's transport master key in the key store (never the key). */
  transport_key_ref: string;
  card_count: number;
  received_by: string;
  received_at: string;
}

/** cs: one row per blank card, its current state (docs/counter.md). Migration 0005. */
export interface CsStockTable {
  serial: string;
  lot: string;
  /** `received` | `in-safe` | `taken-out` | `used` | `spoiled` */
  state: string;
  staff_id: string | null;
  terminal_id: string | null;
  witnessed_by: string | null;
  reason: string | null;
  version: number;
  updated_at: string;
}

/** cs: the stock ledger, every movement of every blank card (seq 1, 2, ... per card). Migration 0005. */
export interface CsStockEventsTable {
  serial: string;
  seq: number;
  at: string;
  event: string;
  from_state: string | null;
  to_state: string;
  staff_id: string;
  terminal_id: string | null;
  witnessed_by: string | null;
  reason: string | null;
}

/** cs: cards issued here, and other issuers' cards collected here. Migration 0005. */
export interface CsCardsTable {
  card_number: string;
  serial: string | null;
  resident_code: string;
  /** The issuing municipality. */
  municipality: string;
  /** `issued-awaiting-pin` | `active` | `suspended` | `abolished` | `collected` */
  status: string;
  /** The status a suspension came from (it returns there). */
  suspended_from: string | null;
  /** The resident code while the card is live, else NULL (unique: one live card per resident). */
  live_resident: string | null;
  issued_at: string | null;
  valid_until: string | null;
  application_id: string | null;
  version: number;
  updated_at: string;
}

/** cs: every status change of a card. Migration 0005. */
export interface CsCardHistoryTable {
  card_number: string;
  seq: number;
  at: string;
  from_status: string | null;
  to_status: string;
  cause: string;
  actor: string;
}

/** cs: card applications and their decision. Migration 0005. */
export interface CsApplicationsTable {
  application_id: string;
  /** `new` | `reissue` | `renewal` */
  kind: string;
  resident_code: string;
  /** `accepted` | `refused` | `issued` */
  state: string;
  /** The refusal code, or null. */
  reason: string | null;
  prior_card: string | null;
  /** Reissue: `returned` | `lost` | `burnt`; renewal: `presented`. */
  prior_disposition: string | null;
  card_number: string | null;
  staff_id: string;
  terminal_id: string;
  created_at: string;
  updated_at: string;
}

/** cs: an issuance between reservation and commit (crash recovery). Migration 0005. */
export interface CsPendingIssuanceTable {
  issuance_id: string;
  application_id: string;
  resident_code: string;
  serial: string;
  card_number: string;
  terminal_id: string;
  staff_id: string;
  started_at: string;
}

/** The face print job of an issued card (R3.1.2e). Migration 0007. */
export interface CsPrintJobsTable {
  job_id: string;
  card_number: string;
  application_id: string;
  /** `form1` | `form2` */
  form: string;
  path: string;
  sha256: string;
  created_at: string;
}

/** A card whose JPKI area was personalised at issuance. Migration 0007. */
export interface CsCardJpkiTable {
  card_number: string;
  /** The serial the JPKI certificates name (the card serial, upper-case hex). */
  jpki_serial: string;
  /** 1 when a signature certificate was issued too. */
  sign: number;
  created_at: string;
}

/** An identity verification recorded before a PIN change or unblock (R3.2.2a, R3.2.2i). Migration 0007. */
export interface CsIdentityChecksTable {
  check_id: string;
  card_number: string;
  resident_code: string;
  /** `pin-change` | `pin-unblock` */
  purpose: string;
  method: string;
  staff_id: string;
  terminal_id: string;
  checked_at: string;
  used_at: string | null;
}

/** A voluntary agent's sealed PIN notice: opened, typed on the pad, destroyed (R3.1.2ka). Never the PIN. Migration 0007. */
export interface CsPinNoticesTable {
  notice_id: string;
  card_number: string;
  agent_name: string;
  opened_by: string;
  opened_at: string;
  /** The pad step's outcome kind. */
  outcome: string;
  destroyed_by: string | null;
  witnessed_by: string | null;
  destroyed_at: string | null;
}
