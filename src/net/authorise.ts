/**
 * The one authoriser of Juki-net: every transport (in-process, HTTPS, NATS) asks it, with the
 * identity taken from the peer's certificate (never from a header or a body field). Deny by
 * default: a message is allowed only when
 *   1. the peer presented a valid certificate from the network CA,
 *   2. the envelope's declared sender is exactly the certificate's node,
 *   3. it is addressed to this node,
 *   4. its type is in the catalogue and lists (peer role -> this role) among its routes, and
 *   5. a municipality's status and identity messages go to its own prefecture only.
 */
import { MESSAGE_TYPES, isMessageType } from './envelope.ts';
import { nodeId, type NodeSpec } from './roles.ts';

export interface AuthoriseRequest {
  /** From the certificate; null when the peer presented none or an invalid one. */
  readonly peer: NodeSpec | null;
  /** This node. */
  readonly receiver: NodeSpec;
  readonly type: string;
  /** The envelope's declared sender and receiver. */
  readonly from: string;
  readonly to: string;
}

export type Decision = { readonly allow: true } | { readonly allow: false; readonly why: string };

const deny = (why: string): Decision => ({ allow: false, why });

/** Decide whether `peer` may deliver a message of `type` declared from `from` to this node. */
export function authorise(r: AuthoriseRequest): Decision {
  if (r.peer === null) return deny('the peer presented no valid certificate from the network CA');
  const peerId = nodeId(r.peer);
  if (r.from !== peerId) return deny(`the declared sender ${JSON.stringify(r.from)} is not the certificate's node ${peerId}`);
  const self = nodeId(r.receiver);
  if (r.to !== self) return deny(`addressed to ${JSON.stringify(r.to)}, but this node is ${self}`);
  if (!isMessageType(r.type)) return deny(`unknown message type ${JSON.stringify(r.type)}`);
  const routes = MESSAGE_TYPES[r.type].routes;
  if (!routes.some(([from, to]) => from === r.peer!.role && to === r.receiver.role)) {
    return deny(`a ${r.peer.role} may not send ${r.type} to a ${r.receiver.role}`);
  }
  if ((r.type === 'card.status' || r.type === 'identity.changed') && r.peer.role === 'municipality' && r.receiver.role === 'prefecture'
    && r.peer.code!.slice(0, 2) !== r.receiver.code) {
    return deny(`municipality ${r.peer.code} reports to prefecture ${r.peer.code!.slice(0, 2)}, not ${r.receiver.code}`);
  }
  return { allow: true };
}
