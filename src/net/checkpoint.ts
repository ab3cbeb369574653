/**
 * Audit checkpoints sent to a peer (ARCHITECTURE.md, "Data and keys"): a node signs its chain
 * head with its node key and sends it as an `audit.checkpoint` message; the peer records it in
 * its own audit log (`net.checkpoint.held`). Verifying the node's chain against the checkpoints
 * its peers hold catches even an administrator who rewrote the whole chain and its head: the
 * rewritten chain no longer passes through the signed heads.
 *
 * Signed bytes: `juki-checkpoint/v1\n` + canonical JSON of {at, headHash, node, seq}.
 */
import type { Kysely, Transaction } from 'kysely';
import { canonicalJson, type AuditLog, type Checkpoint } from '../audit/index.ts';
import type { Schema } from '../db/index.ts';
import { JukiError } from '../util/index.ts';
import type { AuditCheckpointBody } from './envelope.ts';
import { signAsNode, verifyNodeCertificate, verifyNodeSignature } from './pki.ts';
import { nodeId } from './roles.ts';

/** The bytes a checkpoint signature covers. */
export function checkpointSigningInput(cp: Checkpoint): string {
  return `juki-checkpoint/v1\n${canonicalJson({ at: cp.at, headHash: cp.headHash, node: cp.node, seq: cp.seq })}`;
}

/** Sign a checkpoint with the node's key: the body of an `audit.checkpoint` message. */
export function signCheckpoint(cp: Checkpoint, keyPem: string): AuditCheckpointBody {
  return { node: cp.node, seq: cp.seq, headHash: cp.headHash, at: cp.at, signature: signAsNode(keyPem, checkpointSigningInput(cp)) };
}

/**
 * Check a signed checkpoint against the certificate of the node it names (verified against the
 * network CA); returns the checkpoint. Throws JUKI_ERR_NET_DENIED.
 */
export function verifyCheckpoint(body: AuditCheckpointBody, certPem: string, caPem: string): Checkpoint {
  const spec = verifyNodeCertificate(certPem, caPem);
  if (nodeId(spec) !== body.node) throw new JukiError('JUKI_ERR_NET_DENIED', `checkpoint: names ${body.node}, but the certificate is ${nodeId(spec)}'s`);
  const cp: Checkpoint = { node: body.node, seq: body.seq, headHash: body.headHash, at: body.at };
  if (!verifyNodeSignature(certPem, checkpointSigningInput(cp), body.signature)) throw new JukiError('JUKI_ERR_NET_DENIED', `checkpoint: the signature of ${body.node}'s checkpoint at seq ${body.seq} does not verify`);
  return cp;
}

/** Record a peer's checkpoint in this node's audit log, inside the inbox transaction. */
export async function holdCheckpoint(log: AuditLog, trx: Transaction<Schema>, body: AuditCheckpointBody): Promise<void> {
  await log.append(trx, {
    type: 'net.checkpoint.held',
    actor: { kind: 'node', id: body.node },
    subject: { kind: 'node', id: body.node },
    details: { seq: body.seq, headHash: body.headHash, at: body.at },
  });
}

/** The checkpoints of `node` that `holder` holds, to pass to `verifyChain(..., {checkpoints})`. */
export async function heldCheckpoints(db: Kysely<Schema>, holder: string, node: string): Promise<Checkpoint[]> {
  const rows = await db
    .selectFrom('audit_entries')
    .select('details')
    .where('node_id', '=', holder)
    .where('event_type', '=', 'net.checkpoint.held')
    .where('subject', '=', `node:${node}`)
    .orderBy('seq')
    .execute();
  return rows.map((r) => {
    const d = JSON.parse(r.details) as { seq: number; headHash: string; at: string };
    return { node, seq: d.seq, headHash: d.headHash, at: d.at };
  });
}
