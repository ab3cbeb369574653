/**
 * One Juki-net node in its own process, for bench/net-propagation.bench.ts (as in production,
 * where each `juki serve` is its own process: one node's COMMIT no longer stalls the others).
 * Wired exactly as the in-process variant wires it (prepareNodeNet with the HTTPS plan).
 * Talks to the bench over IPC, times as absolute milliseconds (timeOrigin + now), so the bench
 * can compare times taken in different processes:
 *
 *   in:  {produce: {cards, producers}}   (municipality) enqueue one card.status per card
 *        {cpu: true}                     this process's CPU time so far
 *   out: {ready}  {enqueued: [[card, at]...]}  {arrived: [[card, at]...]} (agency, after each commit)
 *        {cpuSeconds}
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { ensurePki, prepareNodeNet } from '../src/cli/network.ts';
import { openDatabase, type Database } from '../src/db/index.ts';
import { parseTopology, type NodeSpec } from '../src/net/index.ts';

interface Config { readonly dir: string; readonly spec: NodeSpec; readonly topology: unknown }

const config = JSON.parse(process.argv[2]!) as Config;
const send = (m: unknown) => process.send!(m);
const now = () => performance.timeOrigin + performance.now();

const topology = parseTopology(config.topology);
const pki = await ensurePki(join(config.dir, 'pki'), topology);
const spec = config.spec;
const database = await openDatabase(join(config.dir, `${spec.role}${spec.code ? '-' + spec.code : ''}.sqlite`));
let lastRowid = 0;
const watched: Database = spec.role !== 'agency' ? database : {
  ...database,
  transaction: async (fn) => {
    const result = await database.transaction(fn);
    const rows = (await sql<{ id: number; card: string }>`SELECT rowid AS id, card_number AS card FROM agency_notices WHERE rowid > ${lastRowid} ORDER BY rowid`.execute(database.db)).rows;
    if (rows.length > 0) {
      const t = now();
      lastRowid = Math.max(lastRowid, ...rows.map((r) => r.id));
      send({ arrived: rows.map((r) => [r.card, t]) });
    }
    return result;
  },
};
const node = prepareNodeNet({ kind: 'https', pki, topology }, spec, watched);
await node.start({});

process.on('message', (m: { produce?: { cards: string[]; producers: number }; stop?: true; cpu?: true }) => {
  if (m.cpu) {
    const u = process.cpuUsage();
    send({ cpuSeconds: (u.user + u.system) / 1e6 });
    return;
  }
  if (m.stop) {
    void node.close().then(() => database.close()).then(() => process.exit(0));
    return;
  }
  if (!m.produce) return;
  const { cards, producers } = m.produce;
  const enqueued: [string, number][] = [];
  let next = 0;
  void Promise.all(Array.from({ length: producers }, async () => {
    while (next < cards.length) {
      const card = cards[next++]!;
      enqueued.push([card, now()]);
      await node.net.outbox.send({
        type: 'card.status', from: 'municipality-131016', to: 'prefecture-13',
        body: { cardNumber: card, status: 'suspended', issuer: '131016', version: 1, changedAt: new Date().toISOString() },
      });
    }
  })).then(() => send({ enqueued }));
});
send({ ready: true });
