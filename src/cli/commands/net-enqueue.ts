/** `juki net enqueue`: an operator tool that writes one message to a node's own outbox. */
import { readFileSync } from 'node:fs';
import { AuditLog } from '../../audit/index.ts';
import { Outbox, SqlNetStore, describeEnvelope, isMessageType, parseNodeId } from '../../net/index.ts';
import { JukiError, invalid } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { openAuditDb } from './audit-db.ts';

export const netEnqueueCommand: Command = {
  path: ['net', 'enqueue'],
  summary: 'Operator tool: write one Juki-net message to a node\'s own outbox (re-announce a status, test a route)',
  usage: '--node ID [--db LOCATION] --type TYPE --to ID (--body JSON | --body-file FILE) [--json]',
  options: {
    db: { type: 'string' }, node: { type: 'string' }, type: { type: 'string' }, to: { type: 'string' },
    body: { type: 'string' }, 'body-file': { type: 'string' }, ...jsonOption,
  },
  help: `
Writes a message from --node's own outbox, in one transaction with an audit entry, exactly as
the node's services do; the node's relay (juki up / juki serve, running or started later)
delivers it. The message is checked against the catalogue first, and the receiver still
authorises it by this node's certificate: nothing here lets one node speak for another.
Use it to re-announce a card status after restoring a database, or to exercise a route:

  juki net enqueue --node municipality-131016 --db DB --type card.status --to prefecture-13 \\
    --body '{"cardNumber":"C0001","status":"suspended","issuer":"131016","version":2,"changedAt":"2025-04-01T00:00:00.000Z"}'

Options:
  --node ID          the sending node (its outbox)
  --db LOCATION      its database (default <data dir>/<node>.sqlite)
  --type TYPE        card.status, card.returned, identity.changed, agency.notice
  --to ID            the receiving node
  --body JSON        the message body (docs/network.md, "Envelope")
  --body-file FILE   the body from a file instead
  --json             print the envelope as one JSON line`,
  async run({ values, stdout }) {
    if (values.node === undefined || values.type === undefined || values.to === undefined) throw new JukiError('JUKI_ERR_USAGE', 'missing --node, --type or --to: usage: juki net enqueue --node ID --type TYPE --to ID --body JSON');
    const from = values.node as string;
    parseNodeId(from, '--node');
    if (!isMessageType(values.type) || values.type === 'audit.checkpoint') throw invalid('--type', `expected card.status, card.returned, identity.changed or agency.notice, got ${JSON.stringify(values.type)}`);
    const text = values.body !== undefined ? (values.body as string) : values['body-file'] !== undefined ? readFileSync(values['body-file'] as string, 'utf8') : undefined;
    if (text === undefined) throw new JukiError('JUKI_ERR_USAGE', 'missing --body JSON or --body-file FILE');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw invalid('--body', 'expected JSON');
    }
    const { database } = await openAuditDb(values);
    try {
      const outbox = new Outbox(new SqlNetStore(database), from);
      const audit = new AuditLog(database, from);
      const envelope = await database.transaction(async (trx) => {
        const e = await outbox.enqueue(trx, { type: values.type as never, from, to: values.to as string, body: body as never });
        await audit.append(trx, {
          type: 'net.message.enqueued', actor: { kind: 'system' }, subject: { kind: 'node', id: from },
          details: { messageType: e.type, to: e.to, ordering: e.key, seq: e.seq, id: e.id },
        });
        return e;
      });
      if (values.json) out(stdout, envelope);
      else out(stdout, `enqueued ${describeEnvelope(envelope)}`);
      return 0;
    } finally {
      await database.close();
    }
  },
};
