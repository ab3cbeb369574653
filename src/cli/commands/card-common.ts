/**
 * What the `juki card` commands share: where the host key store lives, and opening a card
 * image file (the sealed blob SealedCardStore writes through FileBlobStore) as a Card.
 *
 * Key store: `--keystore DIR`, else $JUKI_KEYSTORE, else `<data dir>/keystore` (data dir:
 * $JUKI_DATA_DIR or .juki/data). It holds each card's sealing key and anti-rollback counter
 * (`card:<serial>:image-seal`, `card:<serial>:generation`) and each delivery lot's transport
 * master (`lot:<lot>:transport-master`, created on first use). The image file alone is useless:
 * without its key store entry it cannot be opened, and a copy of an older image is refused.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Card, CARD_MODULES, FileBlobStore, SealedCardStore, sealedImageCardId } from '../../card/index.ts';
import { SoftwareKeyStore } from '../../crypto/index.ts';
import { JukiError, isJukiError } from '../../util/index.ts';
import type { OptionSpec } from '../command.ts';
import { defaultDataDir } from '../runtime.ts';

export const keystoreOption: OptionSpec = { keystore: { type: 'string' } };

export const keystoreHelp = `  --keystore DIR  the host key store (default $JUKI_KEYSTORE, else <data dir>/keystore,
                  data dir $JUKI_DATA_DIR or .juki/data): sealing keys and anti-rollback
                  counters of cards, transport masters of delivery lots`;

/** The key store folder: --keystore, $JUKI_KEYSTORE, or <data dir>/keystore. */
export function keystoreDir(values: Record<string, unknown>): string {
  const given = values.keystore as string | undefined;
  if (given !== undefined && given.trim() === '') throw new JukiError('JUKI_ERR_USAGE', '--keystore: expected a folder, got an empty string');
  return resolve(given ?? (process.env.JUKI_KEYSTORE || join(defaultDataDir(), 'keystore'))); // an empty $JUKI_KEYSTORE counts as unset
}

export function openKeyStore(dir: string): SoftwareKeyStore {
  try {
    return new SoftwareKeyStore(dir);
  } catch (e) {
    if (isJukiError(e)) throw new JukiError(e.code, `--keystore: ${e.message}`, { field: '--keystore' });
    throw e;
  }
}

/** A card image file opened as a powered-on Card over its sealed store. One-line refusals for every way it can fail. */
export function openCardFile(file: string, keyStore: SoftwareKeyStore): { card: Card; cardId: string } {
  const path = resolve(file);
  if (!existsSync(path)) throw new JukiError('JUKI_ERR_FILE', `--card: no such file: ${file}`, { field: '--card' });
  if (!statSync(path).isFile()) throw new JukiError('JUKI_ERR_FILE', `--card: not a file: ${file}`, { field: '--card' });
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new JukiError('JUKI_ERR_FILE', `--card: cannot read ${file}: ${(e as Error).message}`, { field: '--card' });
  }
  const cardId = sealedImageCardId(bytes);
  // Not even a header naming a card: nothing to look up, so no key to destroy.
  if (cardId === undefined) throw new JukiError('JUKI_ERR_CARD_TAMPERED', `--card: ${file} was refused: it is not a sealed card image (no card header)`, { field: '--card' });
  const store = new SealedCardStore({ cardId, keyStore, blobs: new FileBlobStore(path) });
  const card = new Card({ store, types: CARD_MODULES });
  try {
    card.powerOn();
  } catch (e) {
    if (isJukiError(e, 'JUKI_ERR_CARD_TAMPERED')) throw new JukiError(e.code, `--card: ${file} was refused: ${e.message}`, { field: '--card', cardId });
    if (isJukiError(e)) throw new JukiError(e.code, `--card: ${file}: ${e.message}`, { field: '--card', cardId });
    throw e;
  }
  return { card, cardId };
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

/** Split a response APDU: data and SW as uppercase hex. */
export function splitResponse(r: Uint8Array): { data: string; sw: string } {
  return { data: hex(r.subarray(0, r.length - 2)), sw: hex(r.subarray(r.length - 2)) };
}
