/** `juki audit verify`: check every hash, seq and link of a node's audit chain. */
import { readFileSync } from 'node:fs';
import { AuditLog, type Checkpoint, type VerifyResult } from '../../audit/index.ts';
import { JukiError } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { auditDbHelp, auditDbOptions, nodesOf, openAuditDb } from './audit-db.ts';

/** Progress lines on stderr once per this many entries, so long runs show they are moving. */
const PROGRESS_EVERY = 100_000;

export const auditVerifyCommand: Command = {
  path: ['audit', 'verify'],
  summary: 'Verify the audit chain: exit 1 naming the first edited, deleted or reordered entry',
  usage: '[--db LOCATION] [--node ID] [--checkpoints FILE] [--read-only] [--json]',
  options: {
    ...auditDbOptions,
    checkpoints: { type: 'string' },
    'read-only': { type: 'boolean', default: false },
    ...jsonOption,
  },
  help: `
Walks each node's chain in seq order, a batch at a time, recomputing every entry's hash
and checking that seqs run 1..n without a gap, that each entry links to the one before,
and that the chain ends at the recorded head. Stops at the first broken entry of a chain
and names it: edited, deleted, reordered, bad-link, head-mismatch or checkpoint-mismatch
(see docs/audit.md).

Options:
${auditDbHelp}
  --checkpoints FILE  a JSON array of checkpoints ({"node","seq","headHash","at"}) held
                 outside this database; a chain that no longer matches one was rewritten
  --read-only    do not record the verification in the log (by default an
                 audit.verified entry is appended to each chain verified)
  --json         print {"ok":bool,"results":[...]} on one line

Exit 0 when every chain is intact, 1 when any is broken (the first broken seq is named
on stderr), 2 for a malformed command line.`,
  async run({ values, stdout, stderr }) {
    const checkpoints = values.checkpoints === undefined ? [] : readCheckpoints(values.checkpoints as string);
    const { database, node } = await openAuditDb(values);
    try {
      const nodes = await nodesOf(database, node);
      const results: VerifyResult[] = [];
      for (const id of nodes) {
        const log = new AuditLog(database, id);
        let nextReport = PROGRESS_EVERY;
        const result = await log.verify({
          checkpoints: checkpoints.filter((c) => c.node === id),
          onProgress: (p) => {
            if (values.json || p.verified < nextReport) return;
            stderr.write(`audit verify: ${id}: ${p.verified} of ${p.total} entries\n`);
            nextReport = p.verified + PROGRESS_EVERY;
          },
        });
        results.push(result);
        if (!values['read-only']) await recordVerification(log, result);
      }
      const broken = results.filter((r) => !r.ok);
      if (values.json) {
        out(stdout, { ok: broken.length === 0, results });
        return broken.length === 0 ? 0 : 1;
      }
      if (nodes.length === 0) out(stdout, `no audit chain in ${database.location}`);
      for (const r of results) out(stdout, describe(r));
      if (broken.length > 0) {
        const b = broken[0]!;
        throw new JukiError('JUKI_ERR_AUDIT_BROKEN', `audit chain of ${b.node} broken at seq ${b.broken!.seq} (${b.broken!.problem}): ${b.broken!.message}`, {
          node: b.node, seq: b.broken!.seq, problem: b.broken!.problem,
        });
      }
      return 0;
    } finally {
      await database.close();
    }
  },
};

function describe(r: VerifyResult): string {
  if (r.ok) return `${r.node}: ok, ${r.verified} entries verified, head ${r.headSeq} ${r.headHash.slice(0, 16)}…${r.checkpoints ? `, ${r.checkpoints} checkpoints matched` : ''}`;
  return `${r.node}: BROKEN at seq ${r.broken!.seq} (${r.broken!.problem}): ${r.broken!.message}`;
}

/** Record who-checked-when in the chain itself; a broken chain is recorded as an error. */
async function recordVerification(log: AuditLog, r: VerifyResult): Promise<void> {
  const details = { entries: r.verified, headSeq: r.headSeq, checkpoints: r.checkpoints };
  const common = { type: 'audit.verified', actor: { kind: 'system' }, subject: { kind: 'node', id: log.node } } as const;
  await log.record(
    r.ok
      ? { ...common, details }
      : { ...common, outcome: 'error', reason: 'JUKI_ERR_AUDIT_BROKEN', details: { ...details, brokenSeq: r.broken!.seq, problem: r.broken!.problem } },
  );
}

function readCheckpoints(path: string): Checkpoint[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new JukiError('JUKI_ERR_FILE', `--checkpoints: cannot read a JSON array from ${path}: ${(e as Error).message}`, { field: 'checkpoints' });
  }
  if (!Array.isArray(value)) throw new JukiError('JUKI_ERR_INVALID_INPUT', `--checkpoints: expected a JSON array of checkpoints in ${path}`, { field: 'checkpoints' });
  return value as Checkpoint[];
}
