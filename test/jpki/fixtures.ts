/**
 * Shared set-up for the JPKI tests: an authority on a test database (SQLite in memory, or
 * PostgreSQL under JUKI_TEST_DB), a simulated card key pair (the test plays the card: only
 * the public key is handed to the CA), and helpers to run openssl on PEM files in a temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/index.ts';
import type { Database } from '../../src/db/index.ts';
import { JpkiAuthority, SoftwareSigningKeyStore, type JpkiAuthorityOptions, type SigningKeyStore } from '../../src/jpki/index.ts';
import { openTestDb } from '../helpers/db.ts';

export interface Fixture {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly keys: SigningKeyStore;
  readonly authority: JpkiAuthority;
  readonly dir: string;
  close(): Promise<void>;
}

export const BASE_URL = 'http://jpki.juki.test/jpki';

export async function openFixture(options: Partial<JpkiAuthorityOptions> = {}): Promise<Fixture> {
  const database = await openTestDb();
  const audit = new AuditLog(database, 'jpki');
  const keys = options.keys ?? SoftwareSigningKeyStore.inMemory();
  const authority = await JpkiAuthority.open({ database, audit, keys, baseUrl: BASE_URL, ...options });
  const dir = mkdtempSync(join(tmpdir(), 'juki-jpki-'));
  return {
    database, audit, keys, authority, dir,
    close: async () => {
      await keys.close();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A key pair as the card's GENERATE KEY PAIR makes it: the CA only ever sees `spki`. */
export interface CardKey {
  readonly spki: Uint8Array;
  /** Stays "on the card": used only to sign, as the card would with 80 2A. */
  readonly privateKey: KeyObject;
}

export function cardKey(bits = 2048): CardKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return { spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), privateKey };
}

export function pem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export function writePem(dir: string, name: string, der: Uint8Array, label = 'CERTIFICATE'): string {
  const path = join(dir, name);
  writeFileSync(path, pem(der, label));
  return path;
}

export function writeDer(dir: string, name: string, der: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, der);
  return path;
}

/** Run openssl; returns stdout+stderr and the exit status (the caller asserts on both). */
export function openssl(args: string[], input?: Uint8Array): { status: number; out: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl could not run (${r.error.message}): install the Debian package with \`apt-get install -y openssl\``);
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** openssl's text dump of a DER certificate. */
export function certText(der: Uint8Array): string {
  return execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-text', '-nameopt', 'RFC2253'], { input: der, encoding: 'utf8' });
}

export async function count(database: Database, table: 'jpki_certificates' | 'audit_entries' | 'jpki_crls'): Promise<number> {
  const row = await database.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
