/**
 * Opening the `jpki` node's certification authority from its database and the host key store,
 * one way for everything that needs it: the role mounted by `juki up` / `juki serve --role jpki`
 * (roles.ts) and `juki demo card`, so a demo card's certificates come from the very CA that
 * `juki up` serves OCSP and CRLs for on the same data dir.
 *
 * Keys: the CA keys in a software signing-key store, `<keystore>/<node id>-ca-keys/`, sealed
 * under the KEK `<node id>:ca-key-kek` of the host key store (a PKCS#11 token replaces it in
 * production: docs/jpki.md); the JPKI masters `master:jpki:{enc,mac,dek}` in the host key store.
 */
import { join } from 'node:path';
import { AuditLog } from '../audit/index.ts';
import { SoftwareKeyStore } from '../crypto/index.ts';
import type { Database } from '../db/index.ts';
import { JpkiAuthority, SoftwareSigningKeyStore } from '../jpki/index.ts';

export interface JpkiCaOptions {
  /** The node id, `jpki`. */
  readonly id: string;
  readonly database: Database;
  /** The host key store folder. */
  readonly keystoreDir: string;
  /** Where the node's routes are served, e.g. `http://127.0.0.1:8392/jpki`: written into AIA and CDP. */
  readonly baseUrl: string;
}

export interface OpenedJpkiCa {
  readonly authority: JpkiAuthority;
  /** The jpki node's host key store (JPKI master keys for the card's JPKI domain). */
  readonly hostKeys: SoftwareKeyStore;
  close(): Promise<void>;
}

/** Open (creating on first use) the CA of the `jpki` node whose database is `database`. */
export async function openJpkiCa(o: JpkiCaOptions): Promise<OpenedJpkiCa> {
  const hostKeys = new SoftwareKeyStore(o.keystoreDir);
  const kek = hostKeys.secretKey(`${o.id}:ca-key-kek`);
  const keys = SoftwareSigningKeyStore.inFolder(join(o.keystoreDir, `${o.id}-ca-keys`), kek);
  kek.fill(0);
  try {
    const authority = await JpkiAuthority.open({ database: o.database, keys, audit: new AuditLog(o.database, o.id), baseUrl: o.baseUrl });
    return {
      authority,
      hostKeys,
      close: async () => {
        await keys.close?.();
        hostKeys.close();
      },
    };
  } catch (e) {
    await keys.close?.();
    hostKeys.close();
    throw e;
  }
}
