/**
 * `juki jpki revoke`: revoke every JPKI certificate of a card at the data dir's CA, with the
 * CRL reason the card event calls for (docs/jpki.md, "Revocation"). The same CA call the
 * counter's suspension / abolition flow makes (`JpkiAuthority.revokeForCard`); a running
 * `juki up` on the same data dir answers OCSP "revoked" from then on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { sealedImageCardId } from '../../card/index.ts';
import { openDatabase } from '../../db/index.ts';
import { JukiError, invalid } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { openJpkiCa } from '../jpki-ca.ts';
import { defaultDataDir, defaultDbLocation, defaultKeystoreDir } from '../runtime.ts';

const REASONS = ['abolished', 'suspended', 'lost'] as const;
type Reason = (typeof REASONS)[number];

export const jpkiRevokeCommand: Command = {
  path: ['jpki', 'revoke'],
  summary: 'Revoke a card\'s JPKI certificates at the data dir\'s CA (abolished, suspended, lost)',
  usage: '(--card-serial HEX | --card FILE) --reason abolished|suspended|lost [--data-dir DIR] [--keystore DIR] [--json]',
  options: {
    'card-serial': { type: 'string' },
    card: { type: 'string' },
    reason: { type: 'string' },
    'data-dir': { type: 'string' },
    keystore: { type: 'string' },
    ...jsonOption,
  },
  help: `
Revokes every certificate the JPKI CA of the data dir (<data dir>/jpki.sqlite, the CA that
'juki up' serves) issued for the card, in one transaction with its audit entry:

  abolished  cessationOfOperation (final: the card is out of use)
  suspended  certificateHold (lifted when the suspension is cancelled)
  lost       keyCompromise (final: someone else may hold the card)

A revocation already made is not repeated. OCSP answers "revoked" and the next CRL lists
the certificates at once.

Options:
  --card-serial HEX  the card serial (20 hex digits, as 'juki demo card' prints it)
  --card FILE        or a card image file: its serial is read from the file's header
  --reason REASON    abolished, suspended or lost
  --data-dir DIR     where node databases live (default $JUKI_DATA_DIR, else .juki/data)
  --keystore DIR     the host key store (default $JUKI_KEYSTORE, else <data dir>/keystore)
  --json             print the changed certificates as one JSON object`,
  async run({ values, stdout }) {
    const reason = values.reason as string | undefined;
    if (reason === undefined) throw new JukiError('JUKI_ERR_USAGE', `--reason: required: ${REASONS.join(', ')} (see 'juki jpki revoke --help')`);
    if (!(REASONS as readonly string[]).includes(reason)) throw invalid('--reason', `expected ${REASONS.join(', ')}, got ${JSON.stringify(reason)}`);
    const given = values['card-serial'] as string | undefined;
    const file = values.card as string | undefined;
    if ((given === undefined) === (file === undefined)) throw new JukiError('JUKI_ERR_USAGE', "expected one of --card-serial HEX or --card FILE (see 'juki jpki revoke --help')");
    let serial: string;
    if (given !== undefined) {
      if (!/^[0-9A-Fa-f]{2,64}$/.test(given)) throw invalid('--card-serial', `expected the card serial in hex, got ${JSON.stringify(given)}`);
      serial = given.toUpperCase();
    } else {
      if (!existsSync(resolve(file!))) throw new JukiError('JUKI_ERR_FILE', `--card: no such file: ${file}`, { field: '--card' });
      const id = sealedImageCardId(new Uint8Array(readFileSync(resolve(file!))));
      if (id === undefined) throw new JukiError('JUKI_ERR_FILE', `--card: ${file} is not a sealed card image (no card header)`, { field: '--card' });
      serial = id.toUpperCase();
    }
    const dataDir = resolve((values['data-dir'] as string | undefined) ?? defaultDataDir());
    const keystoreDir = resolve((values.keystore as string | undefined) ?? defaultKeystoreDir(dataDir));
    const location = defaultDbLocation({ role: 'jpki' }, dataDir);
    if (!existsSync(location)) throw new JukiError('JUKI_ERR_NOT_FOUND', `--data-dir: no JPKI CA in ${dataDir} (no ${location})`, { field: '--data-dir' });
    const database = await openDatabase(location);
    try {
      // baseUrl is only written into what the CA issues; revoking issues nothing new but the CRL, which carries no URL.
      const ca = await openJpkiCa({ id: 'jpki', database, keystoreDir, baseUrl: 'http://127.0.0.1:8392/jpki' });
      try {
        const certificates = await ca.authority.certificatesForCard(serial);
        if (certificates.length === 0) throw new JukiError('JUKI_ERR_NOT_FOUND', `--card-serial: the JPKI CA in ${dataDir} issued no certificate for card ${serial}`, { field: '--card-serial' });
        const changed = await ca.authority.revokeForCard(serial, reason as Reason);
        const rows = changed.map((c) => ({ serial: c.serial, kind: c.kind, ca: c.caId, status: c.status, reason: c.reason, revokedAt: c.revokedAt?.toISOString() ?? null }));
        if (values.json) out(stdout, { cardSerial: serial, cause: reason, changed: rows, unchanged: certificates.length - rows.length });
        else {
          if (rows.length === 0) out(stdout, `card ${serial}: nothing changed (its ${certificates.length} certificate(s) were already revoked for a final reason or for this one)`);
          else out(stdout, `card ${serial}: ${rows.length} certificate(s) revoked (${reason})`);
          for (const r of rows) out(stdout, `  ${r.kind.padEnd(4)} ${r.serial} ${r.ca} ${r.reason} at ${r.revokedAt}`);
        }
        return 0;
      } finally {
        await ca.close();
      }
    } finally {
      await database.close();
    }
  },
};
