/** The agency: its notice list (R3.2.1o) and the verification flow (R4.2.2). */
export { NoticeList, agencyApply, refuses, newerNotice } from './notice-list.ts';
export type { Notice } from './notice-list.ts';
export { AgencyVerifier } from './verify.ts';
export type { CardRead, CheckResult, AgencyVerifierOptions } from './verify.ts';
export { agencyHttpPlugin } from './http.ts';
export { AgencyCardDesk } from './card-verification.ts';
export type { AgencyCardDeskOptions, AgencyFaults, CardVerificationResult, StepOutcome, VerificationStep } from './card-verification.ts';
