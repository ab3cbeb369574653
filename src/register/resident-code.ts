/**
 * Resident codes (住民票コード): 11 digits, 10 assigned at random plus one check digit.
 *
 * The check-digit rule is not public in any primary text we hold (see
 * /work/shared/reference/jpki-application.md §12.2: "position weighted Mod11", weights
 * unconfirmed). So the rule is a plug-in: a `ResidentCodeValidator`. The default,
 * `digitsOnlyValidator`, checks only the shape (exactly 11 ASCII digits) and documents that
 * it does not check the 11th digit. A deployment that knows the rule passes its own validator
 * to the register; `modulus11HypothesisValidator` is an example of one, built on an
 * unverified guess, and is never the default.
 */
import { JukiError } from '../util/index.ts';
import { describe } from './dates.ts';

/** A resident code that has passed the shape check and the configured validator. */
export type ResidentCode = string & { readonly __residentCode: true };

/** A check-digit rule for resident codes, chosen by whoever deploys the register. */
export interface ResidentCodeValidator {
  /** Shown in errors and docs, e.g. `digits-only`. */
  readonly name: string;
  /** What is wrong with `code` (already known to be 11 ASCII digits) under this rule, or undefined when it passes. */
  problem(code: string): string | undefined;
  /** The 11th digit for 10 leading digits, when this rule defines one (the synthetic generator uses it). */
  checkDigit?(first10: string): string;
}

/**
 * The default: exactly 11 ASCII digits, and nothing more. The 11th digit is NOT checked,
 * because the official check-digit rule is not public.
 */
export const digitsOnlyValidator: ResidentCodeValidator = {
  name: 'digits-only',
  problem: () => undefined,
};

/**
 * An UNVERIFIED hypothesis, offered as an example plug-in only: the modulus-11 scheme of the
 * 個人番号 (平成26年総務省令第85号 第5条) applied to 10 digits. Left to right the weights are
 * 5 4 3 2 7 6 5 4 3 2; with r = (Σ digit × weight) mod 11, the check digit is 0 when r ≤ 1,
 * else 11 − r. No primary text confirms this for 住民票コード.
 */
export const modulus11HypothesisValidator: ResidentCodeValidator = {
  name: 'modulus-11 (unverified hypothesis)',
  checkDigit: modulus11CheckDigit,
  problem(code) {
    const want = modulus11CheckDigit(code.slice(0, 10));
    return code[10] === want ? undefined : `check digit should be ${want} under the ${this.name} rule, got ${code[10]}`;
  },
};

function modulus11CheckDigit(first10: string): string {
  const weights = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += Number(first10[i]) * weights[i]!;
  const r = sum % 11;
  return String(r <= 1 ? 0 : 11 - r);
}

/** The validator a register uses unless told otherwise. */
export const defaultResidentCodeValidator: ResidentCodeValidator = digitsOnlyValidator;

/**
 * Check a resident code's shape and its check digit under `validator`:
 *   parseResidentCode('1234567890')  ->  "resident code: expected 11 digits, got 10"
 */
export function parseResidentCode(
  text: unknown,
  validator: ResidentCodeValidator = defaultResidentCodeValidator,
  field = 'resident code',
): ResidentCode {
  const fail = (what: string): JukiError => new JukiError('JUKI_ERR_INVALID_RESIDENT_CODE', `${field}: ${what}`, { field });
  if (typeof text !== 'string') throw fail(`expected 11 digits, got ${describe(text)}`);
  const bad = [...text].findIndex((c) => c < '0' || c > '9');
  if (bad >= 0) {
    const ch = [...text][bad]!;
    throw fail(`expected 11 digits, got ${JSON.stringify(text)} (${JSON.stringify(ch)} at position ${bad + 1} is not a digit 0-9)`);
  }
  if (text.length !== 11) throw fail(`expected 11 digits, got ${text.length}`);
  const problem = validator.problem(text);
  if (problem) throw fail(problem);
  return text as ResidentCode;
}
