/**
 * APDU round trips through pcscd + vpcd against a real juki card (the README's demo card, in
 * `juki card vpcd`), beside the bare echo card on the same pcscd in the same run: what our
 * card adds to the PC/SC path (the JPKI issue's goal: ≤ 20%).
 *
 * Path, both cards: this process → libpcsclite → pcscd (private, quickack,
 * test/helpers/pcscd.ts) → vpcd driver → TCP → the card in its own process and back. The juki
 * card sits in vpcd slot 0 (`juki card vpcd --card card.img`, made by `juki demo card` in a
 * temp dir), the echo card in slot 1 (test/reader/echo-card-process.ts).
 *
 * What is timed, read-only on both sides:
 * - juki card: SELECT the JPKI AP and its token EF (0006) once, then `00 B0 00 00 20` (READ
 *   BINARY, 32 bytes) repeated. READ BINARY and SELECT never persist (src/card/commands.ts:
 *   only UPDATE BINARY, PIN and key commands call persist), so the image does not churn; the
 *   run checks that the card image and its key store are byte-identical afterwards.
 * - echo card: `80 EE 00 00 20 <32 bytes> 00` repeated: the same 34-byte response
 *   (32 data bytes ‖ 9000). The command is 38 bytes against READ BINARY's 5: the echo card
 *   can only answer what it is sent, so the echo side carries 33 more bytes each way up.
 * The two are measured in alternating 100 ms slices so that load on a shared machine falls on
 * both alike. Added latency = (card's mean round trip ÷ echo's) − 1, over the whole run and at
 * p50, and the median over slice pairs of the same ratio (the figure least moved by load that
 * comes and goes: each pair is measured within 200 ms).
 *
 * Standalone: `node --import tsx bench/pcsc-card.bench.ts` (root; the Debian packages in
 * docs/pcsc.md). `npm run bench -- pcsc-card` runs it through bench/run.ts. Budget per
 * figure: $JUKI_BENCH_SECONDS (default 1). Nothing here asserts a time.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { ECHO_AID, openPcsc, transmitChecked, type CardTransport } from '../src/reader/index.ts';
import { startEchoCardProcess, startPcscd, type CardProcess, type Pcscd } from '../test/helpers/pcscd.ts';
import { budget } from './harness.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'juki.js');
const PIN = '1234';
const SIGN_PASSWORD = 'JUKI2025';
const LENGTH = 0x20;
/** Length of one timed slice; the two cards take turns slice by slice. */
const SLICE_MS = 100;
const STOP_DEADLINE_MS = 10_000;

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const SELECT_JPKI = hex('00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01');
const SELECT_TOKEN = hex('00 A4 02 0C 02 00 06');
const READ_TOKEN = Uint8Array.of(0x00, 0xb0, 0x00, 0x00, LENGTH);
const SELECT_ECHO = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, ECHO_AID.length, ...ECHO_AID]);
const ECHO = Uint8Array.from([0x80, 0xee, 0x00, 0x00, LENGTH, ...new Uint8Array(LENGTH).map((_, i) => i), 0x00]);

interface Figure {
  readonly name: string;
  readonly latencies: number[];
  /** Wall time spent in the timed loops, ms. */
  elapsed: number;
  /** Mean round trip of each slice, ms. */
  readonly slices: number[];
}

const mean = (f: Figure) => f.elapsed / f.latencies.length;
const at = (f: Figure, p: number) => {
  const s = [...f.latencies].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

/** Send `command` for `ms` (after a short warm-up), adding each round trip to `f`; every answer must be LENGTH bytes ‖ 9000. */
async function slice(f: Figure, t: CardTransport, command: Uint8Array, ms: number): Promise<void> {
  const check = (r: Uint8Array) => {
    if (r.length !== LENGTH + 2 || r[LENGTH] !== 0x90 || r[LENGTH + 1] !== 0x00) {
      throw new Error(`${f.name}: answered ${Buffer.from(r).toString('hex')}, expected ${LENGTH} bytes ‖ 9000`);
    }
  };
  for (let i = 0; i < 5; i++) check(await t.transmit(command));
  const start = performance.now();
  const end = start + ms;
  let n = 0;
  while (performance.now() < end) {
    const t0 = performance.now();
    const r = await t.transmit(command);
    f.latencies.push(performance.now() - t0);
    check(r);
    n++;
  }
  const took = performance.now() - start;
  f.elapsed += took;
  f.slices.push(took / n);
}

function line(f: Figure, baseline?: Figure): string {
  const rate = `${Math.round(f.latencies.length / (f.elapsed / 1000)).toLocaleString('en-US')}/s`;
  const lat = `mean ${mean(f).toFixed(3)} ms, p50 ${at(f, 0.5).toFixed(3)} ms, p99 ${at(f, 0.99).toFixed(3)} ms`;
  const pairs = baseline ? f.slices.map((m, i) => m / baseline.slices[i]! - 1).sort((a, b) => a - b) : [];
  const added = baseline
    ? `\n    added latency over ${baseline.name}: ${pct(mean(f) / mean(baseline) - 1)} mean, ${pct(at(f, 0.5) / at(baseline, 0.5) - 1)} p50, ` +
      `${pct(pairs[Math.floor(pairs.length / 2)]!)} median of ${pairs.length} slice pairs`
    : '';
  return `  ${f.name.padEnd(46)} ${rate.padStart(8)}  ${lat}${added}`;
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

/** A digest of the card image and every file in the key store, to show the run changed neither. */
function fingerprint(card: string, keystore: string): string {
  const h = createHash('sha256').update(readFileSync(card));
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(p).update(readFileSync(p));
    }
  };
  walk(keystore);
  return h.digest('hex');
}

/** `juki card vpcd` in pcscd's network namespace, vpcd slot 0; resolves once vpcd has taken the card. */
function startCardVpcd(pcscd: Pcscd, card: string, keystore: string): { child: ChildProcess; attached: Promise<void>; stderr: () => string } {
  const child = spawn('nsenter', [`--net=${pcscd.netns}`, '--', process.execPath, BIN, 'card', 'vpcd', '--card', card, '--keystore', keystore, '--port', String(pcscd.port)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-20_000)));
  const attached = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (/^juki card vpcd: card [0-9A-F]{20} attached to vpcd/.test(l)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`juki card vpcd exited (${code}) before it attached: ${err}`)));
  });
  attached.catch(() => {}); // observed by the caller; never an unhandled rejection
  return { child, attached, stderr: () => err };
}

/** SIGTERM (the command removes the card and exits), SIGKILL past a deadline. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
  await gone;
  clearTimeout(timer);
}

async function run(print: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'juki-bench-pcsc-card-'));
  let pcscd: Pcscd | undefined;
  let vpcd: ReturnType<typeof startCardVpcd> | undefined;
  let echo: CardProcess | undefined;
  try {
    const card = join(dir, 'card.img');
    const made = spawnSync(process.execPath, [BIN, 'demo', 'card', '--out', card, '--pin', PIN, '--sign-password', SIGN_PASSWORD, '--data-dir', dir, '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`juki demo card failed (${made.status}): ${made.stderr}`);
    const { keystore, serial } = JSON.parse(made.stdout) as { keystore: string; serial: string };
    const before = fingerprint(card, keystore);

    pcscd = await startPcscd({ quickAck: true });
    // The helper gives every pcscd of this process the same socket path, which libpcsclite fixes at the first context.
    process.env.PCSCLITE_CSOCK_NAME = pcscd.socketPath;
    vpcd = startCardVpcd(pcscd, card, keystore);
    echo = await startEchoCardProcess(pcscd, 1);
    await Promise.all([vpcd.attached, echo.whenAttached()]);

    const jukiFig: Figure = { name: `juki demo card, READ BINARY ${LENGTH} bytes`, latencies: [], elapsed: 0, slices: [] };
    const echoFig: Figure = { name: `echo card, ECHO ${LENGTH} bytes (baseline)`, latencies: [], elapsed: 0, slices: [] };
    const pcsc = await openPcsc();
    try {
      await pcsc.waitForCard(pcscd.readerName(0), 15_000);
      await pcsc.waitForCard(pcscd.readerName(1), 15_000);
      const j = await pcsc.connect(pcscd.readerName(0));
      try {
        const e = await pcsc.connect(pcscd.readerName(1));
        try {
          await transmitChecked(j, SELECT_JPKI);
          await transmitChecked(j, SELECT_TOKEN);
          const token = await transmitChecked(j, READ_TOKEN);
          if (!Buffer.from(token).toString('latin1').startsWith('JPKIAPICCTOKEN')) throw new Error(`the token EF reads ${Buffer.from(token).toString('hex')}`);
          await transmitChecked(e, SELECT_ECHO);
          const slices = Math.max(1, Math.round((budget() * 1000) / SLICE_MS));
          for (let i = 0; i < slices; i++) {
            await slice(echoFig, e, ECHO, SLICE_MS);
            await slice(jukiFig, j, READ_TOKEN, SLICE_MS);
          }
        } finally {
          await e.close();
        }
      } finally {
        await j.close();
      }
    } finally {
      pcsc.close();
    }
    print(`  card ${serial}; both cards on one private pcscd (quickack), vpcd slots 0 and 1; alternating ${SLICE_MS} ms slices, ${echoFig.slices.length} each`);
    print(line(echoFig));
    print(line(jukiFig, echoFig));

    await stopChild(vpcd.child);
    const changed = fingerprint(card, keystore) !== before;
    print(`  card image and key store after the run: ${changed ? 'CHANGED (the read-only sequence wrote state)' : 'unchanged'}`);
  } finally {
    if (vpcd) await stopChild(vpcd.child);
    await echo?.close();
    await pcscd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** For bench/run.ts (`npm run bench`). */
export const benchmarks = [{ name: 'PC/SC APDU round trip: pcscd + vpcd, juki demo card against the bare echo card', run }];

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`PC/SC juki card vs echo card: node ${process.version}, ${budget()} s per figure`);
  await run((l) => console.log(l));
}
