/**
 * Issue #6 (1): identity-record queries per second over mutual TLS with keep-alive, against a
 * national center holding JUKI_BENCH_RESIDENTS residents (default 1,000,000), every decision
 * audited durably (group commit) before its answer leaves. Goal: ≥ 5,000/s, p99 ≤ 20 ms, on 2
 * cores with the load generator on the same machine.
 *
 * The server is the product's: startHttpsReceiver (Fastify, mutual TLS) with identityQueryRoutes
 * and an IdentityQueryService over the national center's SQLite file (WAL, synchronous=FULL).
 * The load generator is a child process (net-load.ts): a closed loop of JUKI_BENCH_CONCURRENCY
 * (default 32) requests in flight, one per keep-alive connection, as the passport-office agency,
 * each asking for a random resident (affair agency.passport-issuance).
 *
 * Baselines in the same run: a bare round trip on the same listener (the same Fastify + TLS
 * stack, a route answering `{}` without any lookup or audit), and the raw durable commit rate of
 * the same database file (one row per transaction, better-sqlite3 directly).
 * JUKI_BENCH_AUDIT_MAXBATCH=1 turns group commit off (to see what it buys).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { AuditLog } from '../src/audit/index.ts';
import { openDatabase } from '../src/db/index.ts';
import { Gate, IDENTITY_QUERY_PATH, IdentityQueryService, Inbox, SqlNetStore, identityQueryRoutes, startHttpsReceiver, type NodeSpec } from '../src/net/index.ts';
import { budget, report, type Benchmark, type Measurement } from './harness.ts';
import { LoadGenerator, benchPki, benchResidents, layoutFor, nationalDatabaseCopy, rawCommits, type LoadResult } from './net-fixtures.ts';

const NATIONAL: NodeSpec = { role: 'national' };
const AGENCY: NodeSpec = { role: 'agency', code: 'passport' };
const BARE_PATH = '/bench/bare';

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

const ms = (x: number) => `${x.toFixed(2)} ms`;

export const benchmarks: Benchmark[] = [
  {
    name: 'Juki-net: identity-record queries over mutual TLS, every decision audited durably (issue #6)',
    async run(print) {
      const n = benchResidents();
      const seconds = budget();
      const concurrency = envInt('JUKI_BENCH_CONCURRENCY', 32);
      const maxBatch = envInt('JUKI_BENCH_AUDIT_MAXBATCH', 256);
      const dir = mkdtempSync(join(tmpdir(), 'juki-bench-query-'));
      const load = new LoadGenerator();
      let close = async (): Promise<void> => {};
      try {
        const path = await nationalDatabaseCopy(n, dir, print);
        const raw = rawCommits(path, seconds);
        const database = await openDatabase(path);
        const audit = new AuditLog(database, 'national', { maxBatch });
        const service = new IdentityQueryService({ database, audit });
        const { ca, creds } = await benchPki([NATIONAL, AGENCY]);
        const [national, agency] = creds as [typeof creds[0], typeof creds[0]];
        const gate = new Gate({ self: NATIONAL, inbox: new Inbox(new SqlNetStore(database), 'national', async () => {}) });
        const receiver = await startHttpsReceiver({
          credentials: national, caPem: ca.certPem, gate,
          routes: (app, peerOf) => {
            identityQueryRoutes(service)(app, peerOf);
            app.post(BARE_PATH, async () => ({}));
          },
        });
        close = async () => {
          await receiver.close();
          await database.close();
        };
        const common = { url: receiver.url, caPem: ca.certPem, certPem: agency.certPem, keyPem: agency.keyPem, concurrency, connections: concurrency, seconds, warmupSeconds: Math.min(1, seconds / 2) };
        const layout = layoutFor(n);
        const entriesBefore = (await audit.head()).seq;
        const stats0 = audit.groupCommitStats;
        const timed = async (name: string, request: Parameters<LoadGenerator['run']>[0]): Promise<{ m: Measurement; r: LoadResult }> => {
          const cpu0 = process.cpuUsage();
          const r = await load.run(request);
          const cpu = process.cpuUsage(cpu0);
          if (r.failed > 0 || r.ok === 0) throw new Error(`${name}: ${r.failed} of ${r.ok + r.failed} requests failed: ${r.firstFailure}`);
          // CPU of both processes (server: the whole call, warm-up included, so the per-CPU rate errs low).
          const cpuSeconds = (cpu.user + cpu.system) / 1e6 * (r.seconds / (r.seconds + request.warmupSeconds)) + r.cpuSeconds;
          return { m: { name, ops: r.ok, seconds: r.seconds, perSecond: r.ok / r.seconds, perCpuSecond: r.ok / cpuSeconds }, r };
        };
        const bare = await timed('bare mutual-TLS round trip (same stack)', { ...common, path: BARE_PATH, body: 'bare' });
        const query = await timed('identity-record query, audited', { ...common, path: IDENTITY_QUERY_PATH, body: 'query', layout, affair: 'agency.passport-issuance' });
        const stats = audit.groupCommitStats;
        const entries = (await audit.head()).seq - entriesBefore;
        const batches = stats.batches - stats0.batches;
        const rawM: Measurement = { name: 'raw durable commits (SQLite WAL, FULL)', ops: raw.commits, seconds: raw.seconds, perSecond: raw.perSecond, perCpuSecond: raw.perCpuSecond };
        const pct = (r: LoadResult) => `p50 ${ms(r.p50)}  p99 ${ms(r.p99)}`;
        print(`  ${n.toLocaleString('en-US')} residents; ${concurrency} requests in flight, one per keep-alive connection; load generator in a child process; /CPU-s counts both processes`);
        print(report(bare.m, undefined, pct(bare.r)));
        print(report(rawM));
        print(report(query.m, bare.m, pct(query.r), { cpu: false }));
        print(`  ${'  ratio to raw durable commits'.padEnd(52)} ${(query.m.perSecond / raw.perSecond).toFixed(2)}× (${entries.toLocaleString('en-US')} decisions audited in ${batches.toLocaleString('en-US')} transactions: ${(entries / Math.max(1, batches)).toFixed(1)} per commit, largest ${stats.largest})`);
        const met = query.m.perSecond >= 5000 && query.r.p99 <= 20;
        print(`  goal ≥ 5,000/s with p99 ≤ 20 ms: ${met ? 'met' : 'NOT met'} (${Math.round(query.m.perSecond).toLocaleString('en-US')}/s, p99 ${ms(query.r.p99)})`);
        // Every answered query left an audit entry, and the chain holds.
        const ok = (await audit.verify({})).ok;
        const answered = Number((await sql<{ n: number }>`SELECT count(*) AS n FROM audit_entries WHERE node_id = 'national'`.execute(database.db)).rows[0]!.n);
        print(`  audit: ${answered.toLocaleString('en-US')} entries (warm-up included), chain ${ok ? 'verifies' : 'BROKEN'}`);
      } finally {
        load.close();
        await close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
