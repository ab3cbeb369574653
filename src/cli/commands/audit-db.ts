/** Which database and which nodes an `juki audit ...` command works on. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { auditNodes, checkNodeId } from '../../audit/index.ts';
import { openDatabase, parseLocation, type Database } from '../../db/index.ts';
import { JukiError } from '../../util/index.ts';
import type { OptionSpec } from '../command.ts';
import { defaultDataDir } from '../runtime.ts';

export const auditDbOptions: OptionSpec = {
  db: { type: 'string' },
  node: { type: 'string' },
};

export const auditDbHelp = `  --db LOCATION  the node's database: a SQLite file or a postgres:// URL (default, with
                 --node: <data dir>/<node>.sqlite, data dir $JUKI_DATA_DIR or .juki/data)
  --node ID      only this node's chain (default: every chain in the database)`;

/**
 * Open the database named by --db, or the embedded default one of --node. Refuses a SQLite
 * file that does not exist rather than creating an empty one that would "verify".
 */
export async function openAuditDb(values: Record<string, unknown>): Promise<{ database: Database; node: string | undefined }> {
  const node = values.node === undefined ? undefined : checkNodeId(values.node as string, '--node');
  let location = values.db as string | undefined;
  if (location === undefined) {
    if (node === undefined) throw new JukiError('JUKI_ERR_USAGE', 'give --db LOCATION, or --node ID for the embedded default database of that node');
    location = join(defaultDataDir(), `${node}.sqlite`);
  }
  const { dialect, target } = parseLocation(location);
  if (dialect === 'sqlite' && target !== ':memory:' && !existsSync(target)) {
    throw new JukiError('JUKI_ERR_FILE', `database: no SQLite file at ${target}`, { field: 'db' });
  }
  return { database: await openDatabase(location), node };
}

/** The nodes to work on: the one named, or every chain in the database. */
export async function nodesOf(database: Database, node: string | undefined): Promise<string[]> {
  return node !== undefined ? [node] : auditNodes(database.db);
}
