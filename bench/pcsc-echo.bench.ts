/**
 * APDU round trips through pcscd + vpcd against the bare echo card, beside the same APDU
 * sent in process: the cost of the PC/SC path itself, with no card work in it.
 *
 * Path: this process → libpcsclite → pcscd (private, test/helpers/pcscd.ts) → vpcd driver →
 * TCP → the echo card in its own process (as `juki card vpcd` runs) and back.
 *
 * Standalone: `node --import tsx bench/pcsc-echo.bench.ts` (root; the Debian packages in
 * docs/pcsc.md). `npm run bench pcsc` runs it through bench/run.ts. Budget per figure:
 * $JUKI_BENCH_SECONDS (default 1). Nothing here asserts a time.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ECHO_AID, EchoCard, InProcessTransport, openPcsc, transmitChecked, type CardTransport } from '../src/reader/index.ts';
import { startEchoCardProcess, startPcscd } from '../test/helpers/pcscd.ts';

const SELECT_ECHO = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, ECHO_AID.length, ...ECHO_AID]);

function echoCommand(n: number): Uint8Array {
  const data = new Uint8Array(n).map((_, i) => i & 0xff);
  if (n <= 255) return Uint8Array.from([0x80, 0xee, 0x00, 0x00, n, ...data, 0x00]);
  return Uint8Array.from([0x80, 0xee, 0x00, 0x00, 0x00, n >> 8, n & 0xff, ...data, 0x00, 0x00]);
}

interface Figure {
  readonly name: string;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

function seconds(): number {
  const s = Number(process.env.JUKI_BENCH_SECONDS ?? '1');
  return Number.isFinite(s) && s > 0 ? s : 1;
}

/** Send `command` one at a time for the budget (after a warm-up); round trips per second and latency percentiles. */
async function roundTrips(name: string, t: CardTransport, command: Uint8Array, warmup: number): Promise<Figure> {
  for (let i = 0; i < warmup; i++) await t.transmit(command);
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds() * 1000;
  while (performance.now() < end && latencies.length < 5_000_000) {
    const t0 = performance.now();
    const r = await t.transmit(command);
    latencies.push(performance.now() - t0);
    if (r[r.length - 2] !== 0x90) throw new Error(`${name}: the echo card answered ${Buffer.from(r.subarray(-2)).toString('hex')}`);
  }
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { name, perSecond: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

function line(f: Figure, baseline?: Figure): string {
  const rate = `${Math.round(f.perSecond).toLocaleString('en-US')}/s`;
  const lat = `p50 ${f.p50.toFixed(3)} ms, p99 ${f.p99.toFixed(3)} ms`;
  const ratio = baseline ? `  ${(f.perSecond / baseline.perSecond).toFixed(4)}× ${baseline.name}` : '';
  return `  ${f.name.padEnd(48)} ${rate.padStart(12)}  ${lat}${ratio}`;
}

/** Run the measurements, printing one line per figure. */
async function run(print: (line: string) => void): Promise<void> {
  const local = new InProcessTransport(new EchoCard());
  await transmitChecked(local, SELECT_ECHO);
  const baseline = await roundTrips('in process, 16-byte ECHO (baseline)', local, echoCommand(16), 1000);
  print(line(baseline));

  // Debian 12's vpcd writes a frame's length and payload separately with Nagle on, so with
  // the kernel's default delayed ACKs every APDU waits ~40 ms; quickack removes that wait.
  for (const quickAck of [false, true]) {
    const label = quickAck ? 'quickack' : 'default ACKs';
    const pcscd = await startPcscd({ quickAck });
    const card = await startEchoCardProcess(pcscd);
    try {
      // The helper gives every pcscd of this process the same socket path, which libpcsclite fixes at the first context.
      process.env.PCSCLITE_CSOCK_NAME = pcscd.socketPath;
      await card.whenAttached();
      const pcsc = await openPcsc();
      try {
        await pcsc.waitForCard(pcscd.readerName(0), 15_000);
        const t = await pcsc.connect(pcscd.readerName(0));
        try {
          await transmitChecked(t, SELECT_ECHO);
          print(line(await roundTrips(`pcscd + vpcd (${label}), 16-byte ECHO`, t, echoCommand(16), 20), baseline));
          print(line(await roundTrips(`pcscd + vpcd (${label}), 4000-byte ECHO`, t, echoCommand(4000), 20), baseline));
        } finally {
          await t.close();
        }
      } finally {
        pcsc.close();
      }
    } finally {
      await card.close();
      await pcscd.stop();
    }
  }
}

/** For bench/run.ts (`npm run bench`). */
export const benchmarks = [{ name: 'PC/SC APDU round trip: pcscd + vpcd, bare echo card', run }];

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`PC/SC echo round trips: node ${process.version}, ${seconds()} s per figure`);
  await run((l) => console.log(l));
}
