/** Juki-net: node roles and identity, messages, outbox/inbox, transports, topology (docs/network.md). */
export { ROLES, parseRole, checkNodeSpec, nodeId, parseNodeId, sameNode } from './roles.ts';
export type { Role, NodeSpec } from './roles.ts';
export {
  ENVELOPE_VERSION, CARD_STATUSES, MESSAGE_TYPES, isMessageType, checkDraft, parseEnvelope, encodeEnvelope, describeEnvelope,
} from './envelope.ts';
export type {
  Envelope, Draft, MessageType, MessageBodies, MessageSpec, CardStatus, CardStatusBody, ReturnedCardBody, IdentityChangeBody,
  AgencyNoticeBody, AuditCheckpointBody,
} from './envelope.ts';
export { prefectures, parseTopology, loadTopology, subsetTopology, DEFAULT_TOPOLOGY, NETWORK_ROLES } from './topology.ts';
export type { Prefecture, Topology, TopologyNode, TopologyFile, SubsetOptions } from './topology.ts';
export {
  createNetworkCa, issueNodeCertificate, nodeUri, peerIdentity, verifyNodeCertificate, nodeKey, signAsNode, verifyNodeSignature,
} from './pki.ts';
export type { NetworkCa, NodeCredentials, IssueOptions } from './pki.ts';
export { authorise } from './authorise.ts';
export type { AuthoriseRequest, Decision } from './authorise.ts';
export type { NetStore, NetTx, OutboxRecord, InboxRecord, OutboxState, InboxState, ClaimedMessage } from './store.ts';
export { SqlNetStore } from './sql-store.ts';
export { MemoryNetStore, MemoryTx } from './memory-store.ts';
export { Outbox, backoffDelay, DEFAULT_BACKOFF } from './outbox.ts';
export type { Backoff, OutboxOptions, PendingReport } from './outbox.ts';
export { Inbox } from './inbox.ts';
export type { Receipt, ApplyMessage, InboxOptions, MessageSink } from './inbox.ts';
export { Relay } from './relay.ts';
export type { RelayOptions } from './relay.ts';
export { Gate, auditRefusals } from './gate.ts';
export type { GateOptions, GateReply, Refusal } from './gate.ts';
export { permanentFailure, transientFailure } from './transport.ts';
export type { DeliveryResult, Transport } from './transport.ts';
export { InProcessNetwork } from './transports/in-process.ts';
export { checkpointSigningInput, signCheckpoint, verifyCheckpoint, holdCheckpoint, heldCheckpoints } from './checkpoint.ts';
export {
  prefectureApply, nationalApply, municipalityApply, withCommon, NOTICED_STATUSES, recordCardStatus, cardStatusOf, cardsOfResident, recordIdentity,
  currentIdentity, findIdentities, nameKey, affairCatalogue, parseAffairCatalogue, decideBody, decideSubject, IdentityQueryService, parseIdentityQuery,
  IDENTITY_QUERY_PATH, InProcessQueries, HttpsQueryClient, identityQueryRoutes, identityChangesTo,
} from './routes/index.ts';
export type {
  ReturnedCardHook, RouteContext, KnownCardStatus, Affair, AffairBody, AffairCatalogue, AccessRequest, AccessDecision, IdentityQuery, IdentityAnswer,
  QueryReply, QueryClient,
} from './routes/index.ts';
export { startHttpsReceiver, HttpsTransport, MESSAGES_PATH, MESSAGE_BATCHES_PATH, MAX_BATCH } from './transports/https.ts';
export type { HttpsReceiver, HttpsReceiverOptions, HttpsTransportOptions } from './transports/https.ts';
export {
  NationalCardReader, InProcessCardReading, decideCardRead, CARD_READER_BASIC_KVN, NATIONAL_BASIC_MASTER_KEYS, CARD_READ_PATH, cardReadRoutes, HttpsCardReadingClient,
} from './card-reader.ts';
export type { CardRelay, CardReadRequest, CardReading, CardReadingClient, NationalCardReaderOptions, RemoteDesk, CardReadRoutesOptions, HttpsCardReadingOptions } from './card-reader.ts';
export { natsServerConfig, natsPermissions, natsInboxPrefix } from './nats-config.ts';
export type { NatsServerConfigOptions, NatsPermissions } from './nats-config.ts';
export { NatsLink, NATS_STREAM, natsSubject, connectNats } from './transports/nats.ts';
export type { NatsLinkOptions } from './transports/nats.ts';
export { issueServiceCertificate } from './pki.ts';
export { mtlsPool, mtlsJson, MtlsPools } from './mtls.ts';
export type { MtlsPoolOptions, MtlsAnswer } from './mtls.ts';
