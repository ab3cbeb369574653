/** Municipality communication server: counter staff, terminals, blank-card stock, applications, issuance, card status, moves (docs/counter.md). */
export { openCounter, NO_CARD_FLOWS } from './counter.ts';
export type { Counter, CounterOptions } from './counter.ts';
export { csContext } from './context.ts';
export type { CsContext, CsContextOptions } from './context.ts';
export { StaffService, STAFF_ROLES, PERMISSIONS, ROLE_PERMISSIONS, roleAllows, parseOperatorKey } from './staff.ts';
export type { StaffRole, Permission, StaffMember, StaffInput, Principal, Session, LoginChallenge, StaffOptions } from './staff.ts';
export { TerminalService } from './terminals.ts';
export type { Terminal } from './terminals.ts';
export { StockService, STOCK_STATES } from './stock.ts';
export type { StockState, RekeyStep, StockCard, LedgerEvent, ReceiveResult, Alarm, ReconciliationReport } from './stock.ts';
export { CardStatusService, CARD_LIFECYCLE, STATUS_CAUSES, DEFAULT_TRANSITIONS, checkTransitions } from './card-status.ts';
export type { CardLifecycle, StatusCause, TransitionRule, CardRecord, StatusChange } from './card-status.ts';
export { LocalPriorCards, combinedPriorCards } from './prior-cards.ts';
export type { PriorCard, PriorCardLookup } from './prior-cards.ts';
export { ApplicationService, APPLICATION_KINDS, REISSUE_DISPOSITIONS } from './applications.ts';
export type { Application, ApplicationInput, ApplicationKind } from './applications.ts';
export { IssuanceService } from './issuance.ts';
export type { CardStep, PersonalisationRequest, IssuanceOptions, Recovered } from './issuance.ts';
export { MoveService } from './moves.ts';
export type { ReturnedCardInput } from './moves.ts';
export { counterHttpPlugin } from './http.ts';
// Card flows and the basic-area key service (the card side: src/cs/card-flows, src/cs/key-service.ts).
export * from './card-flows/index.ts';
export * from './key-service.ts';
// The real card steps over terminal agents, the PIN services and the wiring (docs/counter.md "End to end").
export { CounterCardSteps, terminalDirectory, inProcessJpki, jpkiRevocationHook, openCounterWithCards, onCardNumber, faceItems, lotMasterKeyName } from './card-steps.ts';
export type { TerminalDirectory, JpkiRelay, CounterCardStepsOptions, CounterWithCardsOptions } from './card-steps.ts';
export { HttpsBasicKeyService, basicKeyServiceRoutes, decideCardKeys, CARD_KEYS_PATH } from './remote-key-service.ts';
export type { HttpsBasicKeyServiceOptions } from './remote-key-service.ts';
export { HttpsJpkiRelay } from './remote-jpki.ts';
export type { HttpsJpkiRelayOptions } from './remote-jpki.ts';
export { PinDesk, PIN_SETTERS, IDENTITY_PURPOSES } from './pin-desk.ts';
export type { PinSetter, IdentityPurpose, IdentityCheck, PinSetResult, PinResetResult } from './pin-desk.ts';
export { issueOperatorCard, readOperatorCard } from './operator-cards.ts';
export type { OperatorCardPlan, OperatorCard } from './operator-cards.ts';
export { OperatorCardDesk } from './operator-desk.ts';
export type { OperatorCardInput, FirstAdministratorInput, OperatorCardMaker } from './operator-desk.ts';
