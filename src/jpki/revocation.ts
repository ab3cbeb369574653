/**
 * Why a JPKI certificate is revoked: the card's fate, mapped to an RFC 5280 §5.3.1 CRLReason.
 *
 *   card suspended (一時停止)  -> certificateHold (6)       reversible: releaseHold makes it good again
 *   card abolished (廃止)      -> cessationOfOperation (5)  final: the card is out of use, no key is suspect
 *   card reported lost (紛失)  -> keyCompromise (1)          final: someone else may hold the card and its key
 *
 * A held certificate may later be revoked for a final reason (the reason is updated, the
 * revocation time kept); a certificate revoked for a final reason stays so.
 */
export const REVOCATION_REASONS = { keyCompromise: 1, cessationOfOperation: 5, certificateHold: 6 } as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

export type CardCause = 'suspended' | 'abolished' | 'lost';

export const CARD_CAUSES: readonly CardCause[] = ['suspended', 'abolished', 'lost'];

export const REASON_FOR_CAUSE: Record<CardCause, RevocationReason> = {
  suspended: 'certificateHold',
  abolished: 'cessationOfOperation',
  lost: 'keyCompromise',
};

export function isRevocationReason(text: string | null): text is RevocationReason {
  return text !== null && Object.prototype.hasOwnProperty.call(REVOCATION_REASONS, text);
}

/** A certificate's status as the CA's records hold it (what OCSP answers). */
export type CertificateStatus =
  | { readonly status: 'good' }
  | { readonly status: 'revoked'; readonly revokedAt: Date; readonly reason: RevocationReason }
  | { readonly status: 'unknown' };
