/** `juki audit checkpoint`: the current head of each chain, for a peer to hold. */
import { AuditLog } from '../../audit/index.ts';
import { type Command, out } from '../command.ts';
import { auditDbHelp, auditDbOptions, nodesOf, openAuditDb } from './audit-db.ts';

export const auditCheckpointCommand: Command = {
  path: ['audit', 'checkpoint'],
  summary: 'Print a checkpoint of each audit chain (seq and head hash) to hold outside the database',
  usage: '[--db LOCATION] [--node ID]',
  options: { ...auditDbOptions },
  help: `
Prints a JSON array of checkpoints, {"node","seq","headHash","at"}, one per chain. Kept
outside the node (later: signed with the node's key and sent to a peer), they let
'juki audit verify --checkpoints FILE' catch a chain rewritten from end to end.

Options:
${auditDbHelp}`,
  async run({ values, stdout }) {
    const { database, node } = await openAuditDb(values);
    try {
      const checkpoints = [];
      for (const id of await nodesOf(database, node)) checkpoints.push(await new AuditLog(database, id).checkpoint());
      out(stdout, checkpoints);
      return 0;
    } finally {
      await database.close();
    }
  },
};
