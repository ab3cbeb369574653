/** Juki-net routes: role apply handlers, identity records, the affair catalogue and queries (docs/network.md "Routes"). */
export { prefectureApply, nationalApply, municipalityApply, withCommon, NOTICED_STATUSES } from './handlers.ts';
export type { ReturnedCardHook, RouteContext } from './handlers.ts';
export { recordCardStatus, cardStatusOf, cardsOfResident, recordIdentity, currentIdentity, findIdentities, checkIdentityRecord, nameKey } from './records.ts';
export type { KnownCardStatus, Trx } from './records.ts';
export { affairCatalogue, parseAffairCatalogue, decideBody, decideSubject } from './affairs.ts';
export type { Affair, AffairBody, AffairCatalogue, AccessRequest, AccessDecision } from './affairs.ts';
export { IdentityQueryService, parseIdentityQuery, IDENTITY_QUERY_PATH } from './identity-query.ts';
export type { IdentityQuery, IdentityAnswer, QueryReply, IdentityQueryOptions } from './identity-query.ts';
export { InProcessQueries, HttpsQueryClient, identityQueryRoutes } from './query-transports.ts';
export type { QueryClient, HttpsQueryClientOptions } from './query-transports.ts';
export { identityChangesTo } from './identity-changes.ts';
