/** `juki net pending`: messages not yet delivered, dead, or held for a gap. */
import { SqlNetStore, describeEnvelope } from '../../net/index.ts';
import { invalid } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { auditDbHelp, auditDbOptions, openAuditDb } from './audit-db.ts';

export const netPendingCommand: Command = {
  path: ['net', 'pending'],
  summary: 'Show Juki-net messages not yet delivered, dead (refused for good), or held for a gap',
  usage: '[--db LOCATION] [--node ID] [--limit N] [--json]',
  options: { ...auditDbOptions, limit: { type: 'string', default: '1000' }, ...jsonOption },
  help: `
Lists, from a node's database:
  pending   in the outbox, not yet acknowledged: attempts, next attempt, last error
  dead      refused by the receiver for good (denied, malformed): never retried, kept here
  held      received, waiting for an earlier message of the same sender and card
Nothing is ever dropped silently: a message leaves this list only when delivered.

Options:
${auditDbHelp}
  --limit N      at most N rows of each kind (default 1000)
  --json         print {"pending": [...], "dead": [...], "held": [...]} as one JSON line`,
  async run({ values, stdout }) {
    const text = values.limit as string;
    if (!/^\d{1,6}$/.test(text) || Number(text) < 1) throw invalid('--limit', `expected an integer from 1 to 999999, got ${JSON.stringify(text)}`);
    const { database } = await openAuditDb(values);
    try {
      const store = new SqlNetStore(database);
      const rows = await store.listOutbox(['pending', 'dead'], Number(text));
      const held = await store.listHeld(Number(text));
      const pending = rows.filter((r) => r.state === 'pending');
      const dead = rows.filter((r) => r.state === 'dead');
      if (values.json) {
        const o = (r: (typeof rows)[number]) => ({ id: r.envelope.id, type: r.envelope.type, from: r.envelope.from, to: r.envelope.to, key: r.envelope.key, seq: r.envelope.seq, createdAt: r.envelope.createdAt, attempts: r.attempts, nextAttemptAt: r.nextAttemptAt, lastError: r.lastError });
        out(stdout, { pending: pending.map(o), dead: dead.map(o), held: held.map((r) => ({ id: r.envelope.id, type: r.envelope.type, from: r.envelope.from, to: r.envelope.to, key: r.envelope.key, seq: r.envelope.seq, receivedAt: r.receivedAt })) });
        return 0;
      }
      for (const r of pending) out(stdout, `pending  ${describeEnvelope(r.envelope)}  attempts ${r.attempts}  next ${r.nextAttemptAt}${r.lastError ? `  last error: ${r.lastError}` : ''}`);
      for (const r of dead) out(stdout, `dead     ${describeEnvelope(r.envelope)}  attempts ${r.attempts}  ${r.lastError ?? ''}`);
      for (const r of held) out(stdout, `held     ${describeEnvelope(r.envelope)}  received ${r.receivedAt}`);
      out(stdout, `${pending.length} pending, ${dead.length} dead, ${held.length} held`);
      return 0;
    } finally {
      await database.close();
    }
  },
};
