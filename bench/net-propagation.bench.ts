/**
 * Issue #6 (2): status-change propagation municipality → agency over Juki-net with mutual TLS:
 * a card status change committed with its message in the municipality CS's outbox → prefecture
 * 13 → national center → the passport office's notice list. Goal: median ≤ 100 ms and
 * ≥ 2,000 changes/s end to end.
 *
 * Four real nodes in this process, wired exactly as `juki serve` wires them (prepareNodeNet with
 * an HTTPS plan: outbox, relay, HTTPS transport, Fastify receiver with mutual TLS, Gate, inbox
 * with the role's handler), each on its own SQLite file (WAL, synchronous=FULL). A change is
 * `outbox.send(card.status suspended)` at the municipality; it has arrived when the agency's
 * transaction that wrote it to agency_notices has committed (the agency's database is wrapped
 * to look after each commit).
 *
 *   latency     one change at a time, JUKI_BENCH_SECONDS long: median and p99
 *   throughput  JUKI_BENCH_CHANGES changes (default 2,000 × JUKI_BENCH_SECONDS) enqueued by 32
 *               concurrent producers, each its own transaction: changes/s from the first enqueue
 *               to the last arrival, and the median latency under that load
 *
 * Baselines in the same run: a bare mutual-TLS round trip (the same Fastify stack, a route
 * answering `{}`, driven by the load generator in a child process, 16 in flight), and the raw
 * durable commit rate of one node's database file (one row per transaction).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fork, type ChildProcess } from 'node:child_process';
import { sql } from 'kysely';
import { ensurePki, prepareNodeNet, type StartedNodeNet } from '../src/cli/network.ts';
import { openDatabase, type Database } from '../src/db/index.ts';
import { Gate, Inbox, SqlNetStore, parseTopology, startHttpsReceiver, type NodeSpec } from '../src/net/index.ts';
import { budget, percentile, report, type Benchmark, type Measurement } from './harness.ts';
import { LoadGenerator, rawCommits } from './net-fixtures.ts';
import { freePort } from '../test/helpers/ports.ts';

const SPECS: readonly NodeSpec[] = [
  { role: 'municipality', code: '131016' },
  { role: 'prefecture', code: '13' },
  { role: 'national' },
  { role: 'agency', code: 'passport' },
];

const ms = (x: number) => `${x.toFixed(1)} ms`;

export const benchmarks: Benchmark[] = [
  {
    name: 'Juki-net: card status change municipality → prefecture → national → agency notice list, mutual TLS (issue #6)',
    async run(print) {
      const seconds = budget();
      const changes = Number(process.env.JUKI_BENCH_CHANGES ?? Math.round(2000 * seconds));
      const dir = mkdtempSync(join(tmpdir(), 'juki-bench-propagation-'));
      const nets: StartedNodeNet[] = [];
      const databases: Database[] = [];
      const load = new LoadGenerator();
      try {
        const topology = parseTopology({
          version: 1,
          nodes: await Promise.all(SPECS.map(async (s) => ({ role: s.role, ...(s.code ? { code: s.code } : {}), address: `https://127.0.0.1:${await freePort()}` }))),
        });
        const pki = await ensurePki(join(dir, 'pki'), topology);
        const plan = { kind: 'https' as const, pki, topology };

        // Arrivals: after each commit of the agency's database, the notices written since.
        const track = new Arrivals();
        const { arrived, enqueued } = track;
        let lastRowid = 0;
        const watch = (database: Database): Database => ({
          ...database,
          transaction: async (fn) => {
            const result = await database.transaction(fn);
            const rows = (await sql<{ id: number; card: string }>`SELECT rowid AS id, card_number AS card FROM agency_notices WHERE rowid > ${lastRowid} ORDER BY rowid`.execute(database.db)).rows;
            const t = performance.now();
            for (const r of rows) {
              lastRowid = Math.max(lastRowid, r.id);
              if (!arrived.has(r.card)) arrived.set(r.card, t);
            }
            if (rows.length > 0) track.notify();
            return result;
          },
        });
        const byRole = new Map<string, StartedNodeNet>();
        for (const spec of SPECS) {
          const database = await openDatabase(join(dir, `${spec.role}${spec.code ? '-' + spec.code : ''}.sqlite`));
          databases.push(database);
          const node = prepareNodeNet(plan, spec, spec.role === 'agency' ? watch(database) : database);
          await node.start({});
          nets.push(node);
          byRole.set(spec.role, node);
        }
        const outbox = byRole.get('municipality')!.net.outbox;
        let serial = 0;
        const change = async (): Promise<string> => {
          const card = `B${String(++serial).padStart(8, '0')}`;
          enqueued.set(card, performance.now());
          await outbox.send({
            type: 'card.status', from: 'municipality-131016', to: 'prefecture-13',
            body: { cardNumber: card, status: 'suspended', issuer: '131016', version: 1, changedAt: new Date().toISOString() },
          });
          return card;
        };
        const until = track.until.bind(track);
        const latencyOf = track.latencyOf.bind(track);

        // Warm-up: TLS connections, prepared paths.
        for (let i = 0; i < 20; i++) {
          const c = await change();
          await until(() => arrived.has(c), `warm-up change ${c}`);
        }

        // Latency: one change at a time.
        const single: string[] = [];
        const t0 = performance.now();
        while (performance.now() - t0 < seconds * 1000) {
          const c = await change();
          await until(() => arrived.has(c), `change ${c}`);
          single.push(c);
        }
        const singleLat = latencyOf(single);

        // Throughput: `changes` changes from 32 producers.
        const batch: string[] = [];
        const cpu0 = process.cpuUsage();
        const t1 = performance.now();
        let left = changes;
        await Promise.all(Array.from({ length: 32 }, async () => {
          while (left > 0) {
            left--;
            batch.push(await change());
          }
        }));
        const enqueuedIn = (performance.now() - t1) / 1000;
        await until(() => batch.every((c) => arrived.has(c)), `${changes} changes`, 300_000);
        const last = Math.max(...batch.map((c) => arrived.get(c)!));
        const elapsed = (last - t1) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const loadLat = latencyOf(batch);
        const through: Measurement = { name: 'changes end to end (3 hops)', ops: changes, seconds: elapsed, perSecond: changes / elapsed, perCpuSecond: changes / ((cpu.user + cpu.system) / 1e6) };

        // Baselines.
        const raw = rawCommits(join(dir, 'municipality-131016.sqlite'), seconds);
        const rawM: Measurement = { name: 'raw durable commits (SQLite WAL, FULL)', ops: raw.commits, seconds: raw.seconds, perSecond: raw.perSecond, perCpuSecond: raw.perCpuSecond };
        const { ca, creds } = await benchPair(pki);
        const bareServer = await startHttpsReceiver({
          credentials: creds.server, caPem: ca, gate: new Gate({ self: SPECS[2]!, inbox: new Inbox(new SqlNetStore(databases[0]!), 'national', async () => {}) }),
          routes: (app) => {
            app.post('/bench/bare', async () => ({}));
          },
        });
        const cpuB = process.cpuUsage();
        const bareR = await load.run({ url: bareServer.url, path: '/bench/bare', caPem: ca, certPem: creds.client.certPem, keyPem: creds.client.keyPem, concurrency: 16, connections: 16, seconds, warmupSeconds: Math.min(1, seconds / 2), body: 'bare' });
        const cpuBare = process.cpuUsage(cpuB);
        await bareServer.close();
        const bare: Measurement = { name: 'bare mutual-TLS round trip (same stack)', ops: bareR.ok, seconds: bareR.seconds, perSecond: bareR.ok / bareR.seconds, perCpuSecond: bareR.ok / ((cpuBare.user + cpuBare.system) / 1e6 * (bareR.seconds / (bareR.seconds + Math.min(1, seconds / 2))) + bareR.cpuSeconds) };

        print(`  4 nodes in one process, each its own SQLite file; ${single.length} changes one at a time, then ${changes.toLocaleString('en-US')} from 32 producers`);
        print(report(bare, undefined, `p50 ${bareR.p50.toFixed(2)} ms  p99 ${bareR.p99.toFixed(2)} ms`));
        print(report(rawM));
        print(`  ${'one change at a time: latency'.padEnd(52)} median ${ms(percentile(singleLat, 50))}  p99 ${ms(percentile(singleLat, 99))}  (${(percentile(singleLat, 50) / (1000 / bare.perSecond)).toFixed(1)}× a bare round trip's share, ${(percentile(singleLat, 50) / (1000 / raw.perSecond)).toFixed(1)}× one raw commit)`);
        print(report(through, rawM, `enqueued in ${enqueuedIn.toFixed(2)} s; latency median ${ms(percentile(loadLat, 50))}  p99 ${ms(percentile(loadLat, 99))}`, { cpu: false }));
        print(`  ${'  ratio to bare round trips'.padEnd(52)} ${(through.perSecond / bare.perSecond).toFixed(2)}×`);
        const met = percentile(singleLat, 50) <= 100 && through.perSecond >= 2000;
        print(`  goal median ≤ 100 ms and ≥ 2,000 changes/s: ${met ? 'met' : 'NOT met'} (median ${ms(percentile(singleLat, 50))}, ${Math.round(through.perSecond).toLocaleString('en-US')}/s)`);
      } finally {
        load.close();
        for (const n of nets) await n.close().catch(() => {});
        for (const d of databases) await d.close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];

/**
 * The same chain with each node in its own process (bench/net-node.ts), as under `juki serve`:
 * a node's COMMIT blocks only its own event loop. Same measurements (latency one at a time,
 * then throughput from 32 producers in the municipality's process); times are absolute
 * milliseconds taken in the municipality's and the agency's processes.
 */
const multiProcess: Benchmark = {
  name: 'Juki-net: the same propagation with each node in its own process (as under juki serve)',
  async run(print) {
    const seconds = budget();
    const changes = Number(process.env.JUKI_BENCH_CHANGES ?? Math.round(2000 * seconds));
    const dir = mkdtempSync(join(tmpdir(), 'juki-bench-propagation-mp-'));
    const children: ChildProcess[] = [];
    const track = new Arrivals();
    const { arrived, enqueued } = track;
    try {
      const rawTopology = {
        version: 1,
        nodes: await Promise.all(SPECS.map(async (s) => ({ role: s.role, ...(s.code ? { code: s.code } : {}), address: `https://127.0.0.1:${await freePort()}` }))),
      };
      await ensurePki(join(dir, 'pki'), parseTopology(rawTopology));
      const byRole = new Map<string, ChildProcess>();
      // Receivers first: agency, national, prefecture, then the municipality.
      for (const spec of [...SPECS].reverse()) {
        const child = fork(join(import.meta.dirname, 'net-node.ts'), [JSON.stringify({ dir, spec, topology: rawTopology })], {
          // JUKI_BENCH_CPU_PROF=DIR: a CPU profile of each node process into DIR (node --cpu-prof).
          execArgv: ['--import', 'tsx', ...(process.env.JUKI_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.JUKI_BENCH_CPU_PROF] : [])],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        children.push(child);
        byRole.set(spec.role, child);
        await new Promise<void>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`${spec.role} node exited (${code})`)));
          child.on('message', (m: { ready?: true }) => m.ready && resolve());
        });
      }
      byRole.get('agency')!.on('message', (m: { arrived?: [string, number][] }) => {
        if (!m.arrived) return;
        for (const [card, t] of m.arrived) if (!arrived.has(card)) arrived.set(card, t);
        track.notify();
      });
      const municipality = byRole.get('municipality')!;
      let serial = 0;
      const produce = (count: number, producers: number): Promise<string[]> => new Promise((resolve) => {
        const cards = Array.from({ length: count }, () => `P${String(++serial).padStart(8, '0')}`);
        const onMessage = (m: { enqueued?: [string, number][] }) => {
          if (!m.enqueued) return;
          municipality.off('message', onMessage);
          for (const [card, t] of m.enqueued) enqueued.set(card, t);
          resolve(cards);
        };
        municipality.on('message', onMessage);
        municipality.send({ produce: { cards, producers } });
      });
      const until = track.until.bind(track);
      const latencyOf = track.latencyOf.bind(track);
      const one = async (): Promise<string> => {
        const [c] = await produce(1, 1);
        await until(() => arrived.has(c!), `change ${c}`);
        return c!;
      };
      for (let i = 0; i < 20; i++) await one();
      const single: string[] = [];
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) single.push(await one());
      const singleLat = latencyOf(single);

      // CPU time of the four node processes (the load's producers run in the municipality's).
      const cpuOfNodes = async (): Promise<number> => {
        const each = await Promise.all(children.map((c) => new Promise<number>((resolve) => {
          const onMessage = (m: { cpuSeconds?: number }) => {
            if (m.cpuSeconds === undefined) return;
            c.off('message', onMessage);
            resolve(m.cpuSeconds);
          };
          c.on('message', onMessage);
          c.send({ cpu: true });
        })));
        return each.reduce((a, b) => a + b, 0);
      };
      const cpu0 = await cpuOfNodes();
      const start = performance.timeOrigin + performance.now();
      const batch = await produce(changes, 32);
      const enqueuedIn = (performance.timeOrigin + performance.now() - start) / 1000;
      await until(() => batch.every((c) => arrived.has(c)), `${changes} changes`, 300_000);
      const elapsed = (Math.max(...batch.map((c) => arrived.get(c)!)) - start) / 1000;
      const cpuSeconds = (await cpuOfNodes()) - cpu0;
      const loadLat = latencyOf(batch);
      const through: Measurement = { name: 'changes end to end (3 hops), 4 processes', ops: changes, seconds: elapsed, perSecond: changes / elapsed, perCpuSecond: changes / cpuSeconds };
      print(`  4 nodes, each its own process and SQLite file; ${single.length} changes one at a time, then ${changes.toLocaleString('en-US')} from 32 producers`);
      print(`  ${'one change at a time: latency'.padEnd(52)} median ${ms(percentile(singleLat, 50))}  p99 ${ms(percentile(singleLat, 99))}`);
      print(`  ${through.name.padEnd(52)} ${`${Math.round(through.perSecond).toLocaleString('en-US')}/s`.padStart(10)}  ${`${Math.round(through.perCpuSecond).toLocaleString('en-US')}/CPU-s`.padStart(12)}  enqueued in ${enqueuedIn.toFixed(2)} s; latency median ${ms(percentile(loadLat, 50))}  p99 ${ms(percentile(loadLat, 99))}`);
      const met = percentile(singleLat, 50) <= 100 && through.perSecond >= 2000;
      print(`  goal median ≤ 100 ms and ≥ 2,000 changes/s: ${met ? 'met' : 'NOT met'} (median ${ms(percentile(singleLat, 50))}, ${Math.round(through.perSecond).toLocaleString('en-US')}/s)`);
    } finally {
      await Promise.all(children.map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null) return resolve();
        c.removeAllListeners('exit');
        c.once('exit', () => resolve());
        c.send({ stop: true });
        setTimeout(() => c.kill(), 10_000).unref();
      })));
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
// JUKI_BENCH_PROPAGATION=in-process or multi-process runs only that variant.
if (process.env.JUKI_BENCH_PROPAGATION === 'multi-process') benchmarks.length = 0;
if (process.env.JUKI_BENCH_PROPAGATION !== 'in-process') benchmarks.push(multiProcess);

/** The national center's and the agency's credentials from the run's PKI, for the bare baseline. */
async function benchPair(pki: Awaited<ReturnType<typeof ensurePki>>) {
  return { ca: pki.caPem, creds: { server: pki.credentials(SPECS[2]!), client: pki.credentials(SPECS[3]!) } };
}

/** When each card's change was enqueued and when it arrived at the agency; waiting for arrivals. */
class Arrivals {
  readonly enqueued = new Map<string, number>();
  readonly arrived = new Map<string, number>();
  #onArrival: (() => void) | undefined;

  /** Call after recording arrivals. */
  notify(): void {
    this.#onArrival?.();
  }

  /** Resolve once `cond` holds (checked at each arrival); reject after `timeoutMs`. */
  until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      if (cond()) return resolve();
      const timer = setTimeout(() => {
        this.#onArrival = undefined;
        reject(new Error(`propagation: timed out waiting for ${what} (${this.arrived.size} of ${this.enqueued.size} arrived)`));
      }, timeoutMs);
      this.#onArrival = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.#onArrival = undefined;
        resolve();
      };
    });
  }

  /** Milliseconds from enqueue to arrival of each card. */
  latencyOf(cards: Iterable<string>): number[] {
    return [...cards].map((c) => this.arrived.get(c)! - this.enqueued.get(c)!);
  }
}
