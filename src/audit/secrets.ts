/**
 * The log never stores a PIN, password or key. Details are scanned, at every depth, for field
 * names that look like one; any match refuses the whole entry. Deny by default: a harmless
 * name that happens to match (`monkey`) is refused too and has to be renamed.
 */
import { JukiError } from '../util/index.ts';

/** Words that mark a secret when a name's word starts or ends with them. */
const SECRET_WORDS = ['pin', 'puk', 'password', 'passwd', 'passphrase', 'pwd', 'key', 'secret', 'token', 'credential', 'otp', 'mac', 'cryptogram'];

/** Split `pinBlock`, `api_key`, `PIN1`, `session-key` into lower-case words. */
function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w !== '');
}

/** Whether a field name looks like it holds a secret. */
export function looksSecret(name: string): boolean {
  // Every appended entry asks this of each of its field names, nearly always the same few
  // (the catalogue's): the answers are kept, up to a bound.
  let known = verdicts.get(name);
  if (known === undefined) {
    known = wordsOf(name).some((w) => SECRET_WORDS.some((s) => w.startsWith(s) || w.endsWith(s)));
    if (verdicts.size >= 4096) verdicts.clear();
    verdicts.set(name, known);
  }
  return known;
}

const verdicts = new Map<string, boolean>();

/** Throw JUKI_ERR_AUDIT_SECRET_FIELD naming the first secret-looking field anywhere in `value`. */
export function refuseSecrets(value: unknown, path = 'details'): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => refuseSecrets(v, `${path}[${i}]`));
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (looksSecret(k)) {
      throw new JukiError('JUKI_ERR_AUDIT_SECRET_FIELD', `${path}.${k}: the audit log never stores a PIN, password or key; refusing a field named like one`, { field: `${path}.${k}` });
    }
    refuseSecrets(v, `${path}.${k}`);
  }
}
