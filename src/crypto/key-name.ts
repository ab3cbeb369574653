/** Key-store names: `[a-z0-9._:-]{1,128}`, e.g. `card:0001:image-seal`, `master:basic:enc`. */
import { invalid } from '../util/index.ts';

const NAME = /^[a-z0-9._:-]{1,128}$/;

/** Throws JUKI_ERR_INVALID_INPUT with the offending character or length unless `name` is a valid key-store name. */
export function checkKeyName(name: string): void {
  if (typeof name === 'string' && NAME.test(name)) return;
  if (typeof name !== 'string') throw invalid('key name', `expected a string, got ${typeof name}`);
  if (name.length === 0) throw invalid('key name', 'expected 1 to 128 characters, got an empty name');
  if (name.length > 128) throw invalid('key name', `expected at most 128 characters, got ${name.length}`);
  const at = [...name].findIndex((c) => !/[a-z0-9._:-]/.test(c));
  throw invalid('key name', `expected only a-z 0-9 . _ : -, got ${JSON.stringify(name)} (character ${JSON.stringify([...name][at])} at ${at})`);
}
