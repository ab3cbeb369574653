/** `juki audit list`: the latest entries of each audit chain. */
import { AuditLog, type AuditEntry } from '../../audit/index.ts';
import { invalid } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { auditDbHelp, auditDbOptions, nodesOf, openAuditDb } from './audit-db.ts';

export const auditListCommand: Command = {
  path: ['audit', 'list'],
  summary: 'Show the latest audit entries of each node',
  usage: '[--db LOCATION] [--node ID] [--limit N] [--json]',
  options: { ...auditDbOptions, limit: { type: 'string', default: '20' }, ...jsonOption },
  help: `
Prints the last N entries of each chain, oldest first, one line each:
  seq  time  event  outcome[/reason]  actor  subject  details

Options:
${auditDbHelp}
  --limit N      entries per node (default 20, at most 100000)
  --json         print a JSON array of entries exactly as stored (with their hashes)`,
  async run({ values, stdout }) {
    const text = values.limit as string;
    if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > 100000) throw invalid('--limit', `expected an integer from 1 to 100000, got ${JSON.stringify(text)}`);
    const { database, node } = await openAuditDb(values);
    try {
      const all: AuditEntry[] = [];
      for (const id of await nodesOf(database, node)) all.push(...(await new AuditLog(database, id).list({ limit: Number(text) })));
      if (values.json) out(stdout, all);
      else for (const e of all) out(stdout, line(e));
      return 0;
    } finally {
      await database.close();
    }
  },
};

function line(e: AuditEntry): string {
  const outcome = e.reason ? `${e.outcome}/${e.reason}` : e.outcome;
  return [`${e.node}#${e.seq}`, e.at, e.type, outcome, e.actor, e.subject || '-', e.details].join('  ');
}
