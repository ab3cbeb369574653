/** `juki card new`: make a blank card image (the card maker's step, R2.2.2). */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { FileBlobStore, MAKER_TRANSPORT_KVN, SealedCardStore, cardIdOf, manufactureBlankCard, sealingNames } from '../../card/index.ts';
import { JPKI_INITIAL_KVN, jpkiInitialMaster } from '../../jpki/index.ts';
import { JukiError, invalid } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { keystoreDir, keystoreHelp, keystoreOption, openKeyStore } from './card-common.ts';

/** The key-store name of a delivery lot's transport master. */
export function lotMasterName(lot: string): string {
  return `lot:${lot.toLowerCase()}:transport-master`;
}

export const cardNewCommand: Command = {
  path: ['card', 'new'],
  summary: 'Make a blank card image, locked by its lot\'s transport keys',
  usage: '--lot LOT --out FILE [--serial HEX] [--without-jpki] [--keystore DIR] [--force] [--json]',
  options: {
    lot: { type: 'string' },
    out: { type: 'string' },
    serial: { type: 'string' },
    force: { type: 'boolean', default: false },
    'without-jpki': { type: 'boolean', default: false },
    ...keystoreOption,
    ...jsonOption,
  },
  help: `
Writes a blank card (lifecycle blank, no applications) to FILE, sealed with AES-256-GCM under
a new sealing key in the key store. Its only keys are transport keys (KVN FF) diversified
from the lot's transport master with the card serial (R2.2.2): nothing can be installed or
personalised without them, and personalisation replaces them. The master stays in the key
store as lot:<LOT>:transport-master (created on the lot's first card; one 256-bit key, used
as K-ENC, K-MAC and K-DEK master, so the card's transport keys are AES-256).

The card also gets its JPKI initial key set (KVN 4F), diversified with its serial from the JPKI
initial master master:jpki-initial:{enc,mac,dek} of the key store: the master the jpki node of
that key store shares with card makers (R5.1). Only with it can a JPKI area be installed; the
jpki role replaces it with its own keys before anything else. --without-jpki leaves it out.

Options:
  --lot LOT       delivery lot name: 1 to 64 of A-Z a-z 0-9 . _ - (case-insensitive)
  --out FILE      the card image file to write
  --serial HEX    the 10-byte card serial as 20 hex digits (default: random)
  --without-jpki  no JPKI initial key set: the card can never carry a JPKI area
  --force         replace FILE if it exists
${keystoreHelp}
  --json          print the result as one JSON object`,
  async run({ values, stdout }) {
    const lot = values.lot as string | undefined;
    const file = values.out as string | undefined;
    if (lot === undefined) throw new JukiError('JUKI_ERR_USAGE', "--lot: required: the delivery lot the card belongs to (see 'juki card new --help')");
    if (file === undefined) throw new JukiError('JUKI_ERR_USAGE', "--out: required: the card image file to write (see 'juki card new --help')");
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(lot)) throw invalid('--lot', `expected 1 to 64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(lot)}`);
    let serial: Uint8Array;
    if (values.serial !== undefined) {
      const s = (values.serial as string).replace(/[\s:]/g, '');
      if (!/^[0-9A-Fa-f]{20}$/.test(s)) throw invalid('--serial', `expected 10 bytes as 20 hex digits, got ${JSON.stringify(values.serial)}`);
      serial = new Uint8Array(Buffer.from(s, 'hex'));
    } else serial = new Uint8Array(randomBytes(10));
    const path = resolve(file);
    if (!existsSync(dirname(path)) || !statSync(dirname(path)).isDirectory()) throw new JukiError('JUKI_ERR_FILE', `--out: no such folder: ${dirname(file)}`, { field: '--out' });
    if (existsSync(path)) {
      if (!values.force) throw new JukiError('JUKI_ERR_CONFLICT', `--out: ${file} already exists; use --force to replace it`, { field: '--out' });
      if (!statSync(path).isFile()) throw new JukiError('JUKI_ERR_FILE', `--out: ${file} is not a file`, { field: '--out' });
    }
    const dir = keystoreDir(values);
    const keyStore = openKeyStore(dir);
    try {
      const cardId = cardIdOf(serial);
      const names = sealingNames(cardId);
      // A serial is a card's identity: the key store never holds two cards under one.
      if (keyStore.readCounter(names.counter) > 0 || keyStore.hasKey(names.key)) {
        throw new JukiError('JUKI_ERR_CONFLICT', `--serial: a card with serial ${cardId} was already made with this key store (${dir})`, { field: '--serial' });
      }
      if (existsSync(path)) unlinkSync(path);
      const master = keyStore.secretKey(lotMasterName(lot), true);
      const jpki = values['without-jpki'] ? undefined : jpkiInitialMaster(keyStore);
      try {
        const store = new SealedCardStore({ cardId, keyStore, blobs: new FileBlobStore(path) });
        manufactureBlankCard(store, { serial, transportMaster: { enc: master, mac: master, dek: master }, ...(jpki ? { jpkiInitial: { master: jpki } } : {}) });
      } finally {
        master.fill(0);
        if (jpki) for (const k of [jpki.enc, jpki.mac, jpki.dek]) k.fill(0);
      }
      const result = { card: file, serial: cardId, lot, lifecycle: 'blank', transportKvn: MAKER_TRANSPORT_KVN, jpkiInitialKvn: jpki ? JPKI_INITIAL_KVN : null, keystore: dir };
      if (values.json) out(stdout, result);
      else out(stdout, `blank card ${cardId} of lot ${lot} written to ${file} (transport keys KVN FF from the lot's master; ${jpki ? 'JPKI initial keys KVN 4F' : 'no JPKI initial keys'}; key store ${dir})`);
      return 0;
    } finally {
      keyStore.close();
    }
  },
};
