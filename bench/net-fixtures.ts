/**
 * What the Juki-net benchmarks share: the seeded national database (cached), a network PKI made
 * in memory, the load generator's child process, and the two baselines every figure is set
 * against (a bare mutual-TLS keep-alive round trip on the same server stack, and the raw
 * durable commit rate of the same database).
 *
 * The national database: `JUKI_BENCH_RESIDENTS` (default 1,000,000) identity records, as the
 * national center holds them (net_identity_records, one `registered` row per resident), spread
 * over 100 municipalities, from the deterministic synthetic residents (seed 6). Seeding a million
 * takes minutes, so the file is cached under `.juki/bench/` (gitignored), keyed by the count, the
 * last migration and SEED_FORMAT; each run works on a copy.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/index.ts';
import { migrations } from '../src/db/migrations/index.ts';
import { createNetworkCa, issueNodeCertificate, nameKey, type NetworkCa, type NodeCredentials, type NodeSpec } from '../src/net/index.ts';
import { DEFAULT_AS_OF, municipalities, substituteName, substituteText, syntheticEntries, syntheticResidentCode, type IdentityRecord, type Municipality } from '../src/register/index.ts';

/** Bump when what the seeder writes changes (invalidates cached databases). */
export const SEED_FORMAT = 1;
export const SEED = 6;
const MUNICIPALITIES = 100;

export function benchResidents(): number {
  const n = Number(process.env.JUKI_BENCH_RESIDENTS ?? '1000000');
  if (!Number.isSafeInteger(n) || n < 1 || n > 100_000_000) throw new Error(`JUKI_BENCH_RESIDENTS: expected a whole number from 1, got ${process.env.JUKI_BENCH_RESIDENTS}`);
  return n;
}

/** Where the seeded residents are: municipality codes and how many each holds. */
export interface Layout {
  readonly seed: number;
  readonly municipalities: readonly { readonly code: string; readonly count: number }[];
}

export function layoutFor(n: number): Layout {
  const all = [...municipalities().values()].slice(0, Math.min(MUNICIPALITIES, n));
  const base = Math.floor(n / all.length);
  return { seed: SEED, municipalities: all.map((m, i) => ({ code: m.code, count: base + (i < n % all.length ? 1 : 0) })) };
}

/** The resident code of the j-th resident of the k-th municipality of the layout. */
export function residentCodeOf(layout: Layout, k: number, j: number): string {
  const m = municipalities().get(layout.municipalities[k]!.code)!;
  return syntheticResidentCode(layout.seed, m, j);
}

export function benchDir(): string {
  const dir = join(process.cwd(), '.juki', 'bench');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A working copy of the national database holding `n` residents: seeded into the cache on first
 * use (progress on `print`), copied for this run into `workDir`.
 */
export async function nationalDatabaseCopy(n: number, workDir: string, print: (line: string) => void): Promise<string> {
  const schema = Object.keys(migrations).at(-1)!;
  const cached = join(benchDir(), `national-${n}-${schema}-f${SEED_FORMAT}.sqlite`);
  if (!existsSync(cached)) {
    // A cache seeded under an earlier schema (same seeder) is migrated forward instead of seeded
    // again (a million residents take ≈ 14 minutes to seed, a migration of the copy seconds).
    const older = Object.keys(migrations).slice(0, -1).reverse().map((m) => join(benchDir(), `national-${n}-${m}-f${SEED_FORMAT}.sqlite`)).find((f) => existsSync(f));
    if (older) {
      const tmp = `${cached}.migrating`;
      copyFileSync(older, tmp);
      const database = await openDatabase(tmp); // migrates to the latest schema
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(database.db);
      await database.close();
      for (const f of [`${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
      renameSync(tmp, cached);
      rmSync(older);
      print(`  (national database: migrated ${older} forward)`);
    } else await seedNational(cached, n, print);
  }
  const copy = join(workDir, 'national.sqlite');
  const t = performance.now();
  copyFileSync(cached, copy);
  print(`  (national database: ${n.toLocaleString('en-US')} residents, cached ${cached}, copied in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  return copy;
}

async function seedNational(path: string, n: number, print: (line: string) => void): Promise<void> {
  const tmp = `${path}.seeding`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  const layout = layoutFor(n);
  print(`  seeding the national database with ${n.toLocaleString('en-US')} residents into ${path} (once; cached)`);
  const database = await openDatabase(tmp);
  const started = performance.now();
  const at = `${DEFAULT_AS_OF}T00:00:00.000Z`;
  let done = 0;
  let lastShown = 0;
  let rows: Record<string, unknown>[] = [];
  let pending: Record<string, unknown>[][] = [];
  const flush = async (): Promise<void> => {
    const chunks = pending;
    pending = [];
    await database.transaction(async (trx) => {
      for (const chunk of chunks) await trx.insertInto('net_identity_records').values(chunk as never).execute();
    });
  };
  for (const { code, count } of layout.municipalities) {
    const m: Municipality = municipalities().get(code)!;
    for (const e of syntheticEntries({ seed: layout.seed, municipality: m, count, asOf: DEFAULT_AS_OF })) {
      const r = e.resident;
      const record: IdentityRecord = {
        residentCode: r.residentCode as IdentityRecord['residentCode'], municipality: m.code, name: { family: r.name.family, given: r.name.given }, birthDate: r.birthDate as IdentityRecord['birthDate'],
        sex: r.sex, address: r.address, status: 'registered', change: { reason: e.reason, date: e.date as IdentityRecord['change']['date'] },
        substitute: { name: substituteName(r.name), address: substituteText(r.address) },
      };
      rows.push({
        resident_code: r.residentCode, municipality: m.code, version: 1, status: 'registered', name_key: nameKey(r.name), birth_date: r.birthDate,
        address: r.address, record: JSON.stringify(record), updated_at: at,
      });
      if (rows.length === 500) {
        pending.push(rows);
        rows = [];
        if (pending.length === 40) await flush();
      }
      done++;
      if (done - lastShown >= n / 20 || done === n) {
        lastShown = done;
        const s = (performance.now() - started) / 1000;
        print(`  seeding [${'#'.repeat(Math.round((done / n) * 20)).padEnd(20, '.')}] ${done.toLocaleString('en-US')}/${n.toLocaleString('en-US')} ${s.toFixed(0)} s`);
      }
    }
  }
  if (rows.length > 0) pending.push(rows);
  if (pending.length > 0) await flush();
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(database.db);
  await database.close();
  renameSync(tmp, path);
  for (const f of [`${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  print(`  seeded in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** A network CA and the certificates of `specs`, in memory. */
export async function benchPki(specs: readonly NodeSpec[]): Promise<{ ca: NetworkCa; creds: NodeCredentials[] }> {
  const ca = await createNetworkCa();
  return { ca, creds: await Promise.all(specs.map((s) => issueNodeCertificate(ca, s))) };
}

/**
 * The raw durable commit rate of a SQLite file: one row per transaction, autocommit, WAL and
 * synchronous=FULL as openDatabase sets them, better-sqlite3 directly (no Kysely, no juki code).
 */
export function rawCommits(path: string, seconds: number): { commits: number; seconds: number; perSecond: number; perCpuSecond: number } {
  const db = new SQLite(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS bench_commits (id INTEGER PRIMARY KEY, at TEXT NOT NULL, payload TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO bench_commits (at, payload) VALUES (?, ?)');
  const payload = 'x'.repeat(300);
  let commits = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 10; i++) insert.run(new Date().toISOString(), payload);
    commits += 10;
  }
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  db.exec('DROP TABLE bench_commits');
  db.close();
  return { commits, seconds: elapsed, perSecond: commits / elapsed, perCpuSecond: commits / Math.max((cpu.user + cpu.system) / 1e6, 1e-9) };
}

// ---- the load generator: a child process driving HTTPS requests ------------------------------

export interface LoadRequest {
  readonly url: string;
  readonly path: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Requests in flight at once (closed loop). */
  readonly concurrency: number;
  /** Keep-alive connections. */
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** `bare`: an empty JSON object each time; `query`: a random resident of the layout. */
  readonly body: 'bare' | 'query';
  readonly layout?: Layout;
  readonly affair?: string;
}

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly firstFailure?: string;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  /** CPU seconds the load generator used. */
  readonly cpuSeconds: number;
}

export class LoadGenerator {
  readonly #child: ChildProcess;

  constructor() {
    this.#child = fork(join(import.meta.dirname, 'net-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }

  run(request: LoadRequest): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: LoadResult | { error: string }) => {
        this.#child.off('exit', onExit);
        if ('error' in m) reject(new Error(`load generator: ${m.error}`));
        else resolve(m);
      };
      const onExit = (code: number | null) => reject(new Error(`load generator exited (${code})`));
      this.#child.once('message', onMessage);
      this.#child.once('exit', onExit);
      this.#child.send(request);
    });
  }

  close(): void {
    this.#child.disconnect();
  }
}
