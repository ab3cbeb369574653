/**
 * Access conditions (R2.2.4): every file, key and PIN operation of every application names
 * one, fixed in the application's code (never in the image), and this evaluator is the only
 * place they are decided. ISO/IEC 7816-4 §5.4 (security attributes), GP Amd D §7 (levels).
 */

/** Security-level bits of an open SCP03 channel (GP Amd D §7.1.2.3, EXTERNAL AUTHENTICATE P1). */
export const LEVEL = { C_MAC: 0x01, C_DEC: 0x02, R_MAC: 0x10, R_ENC: 0x20 } as const;

export type AccessCondition =
  /** Anyone holding the card. */
  | { readonly kind: 'always' }
  /** No one, ever (the resident code cannot be rewritten, keys cannot be read). */
  | { readonly kind: 'never' }
  /** The application's PIN `ref` verified since this application was selected. */
  | { readonly kind: 'pin'; readonly ref: number }
  /** This command arrived under secure messaging on a channel opened with the application's own keys. */
  | { readonly kind: 'channel'; readonly confidential: boolean }
  /** Both of the above (R4.2.1: PIN, mutual authentication and the access check). */
  | { readonly kind: 'pin+channel'; readonly ref: number; readonly confidential: boolean }
  /** Secure messaging on a channel opened with the issuer security domain's keys (the issuing municipality). */
  | { readonly kind: 'issuer'; readonly confidential: boolean }
  /** Any one of several conditions. */
  | { readonly kind: 'any'; readonly of: readonly AccessCondition[] };

export const always: AccessCondition = { kind: 'always' };
export const never: AccessCondition = { kind: 'never' };
export const pin = (ref: number): AccessCondition => ({ kind: 'pin', ref });
/** `confidential`: reads need R-ENC, updates need C-DECRYPTION (personal data is encrypted both ways). */
export const channel = (confidential = false): AccessCondition => ({ kind: 'channel', confidential });
export const pinAndChannel = (ref: number, confidential = false): AccessCondition => ({ kind: 'pin+channel', ref, confidential });
export const issuer = (confidential = false): AccessCondition => ({ kind: 'issuer', confidential });
export const anyOf = (...of: AccessCondition[]): AccessCondition => ({ kind: 'any', of });

/** Whose keys opened the channel on the selected application. */
export type ChannelOwner = 'none' | 'app' | 'issuer';

/** What the evaluator looks at: the selected application's transient security state plus how this command arrived. */
export interface SecurityView {
  /** PIN references verified since the application was selected. */
  readonly verified: ReadonlySet<number>;
  readonly owner: ChannelOwner;
  /** Whether this command came wrapped and its C-MAC verified. */
  readonly secured: boolean;
  /** The channel's security level bits (LEVEL). */
  readonly level: number;
}

export type Operation = 'read' | 'update' | 'use';

function smOk(v: SecurityView, confidential: boolean, op: Operation): boolean {
  if (!v.secured || (v.level & LEVEL.C_MAC) === 0) return false;
  if (!confidential) return true;
  // Personal data leaves encrypted (R-ENC) and arrives encrypted (C-DECRYPTION).
  return op === 'read' ? (v.level & LEVEL.R_ENC) !== 0 : (v.level & LEVEL.C_DEC) !== 0;
}

/** Decide one condition for one operation. Pure: no side effects, no I/O. */
export function allows(c: AccessCondition, v: SecurityView, op: Operation): boolean {
  switch (c.kind) {
    case 'always':
      return true;
    case 'never':
      return false;
    case 'pin':
      return v.verified.has(c.ref);
    case 'channel':
      return v.owner === 'app' && smOk(v, c.confidential, op);
    case 'pin+channel':
      return v.verified.has(c.ref) && v.owner === 'app' && smOk(v, c.confidential, op);
    case 'issuer':
      return v.owner === 'issuer' && smOk(v, c.confidential, op);
    case 'any':
      return c.of.some((x) => allows(x, v, op));
  }
}

/** `PIN(1)+SM(enc)`: for docs and traces. */
export function describeCondition(c: AccessCondition): string {
  switch (c.kind) {
    case 'always':
      return 'ALW';
    case 'never':
      return 'NEV';
    case 'pin':
      return `PIN(${c.ref})`;
    case 'channel':
      return c.confidential ? 'SM(app,enc)' : 'SM(app)';
    case 'pin+channel':
      return `PIN(${c.ref})+${c.confidential ? 'SM(app,enc)' : 'SM(app)'}`;
    case 'issuer':
      return c.confidential ? 'SM(issuer,enc)' : 'SM(issuer)';
    case 'any':
      return c.of.map(describeCondition).join(' | ');
  }
}
