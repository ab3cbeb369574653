/**
 * The card's identity-verification transaction (R4.2: what an agency terminal and the
 * national center do with a card), card and host side together in one process:
 *
 *   SELECT basic area → VERIFY (holder PIN) → INITIALIZE UPDATE → EXTERNAL AUTHENTICATE
 *   (SCP03, security level 33) → READ BINARY of the resident code under C-MAC, R-ENC, R-MAC
 *
 * Each figure is printed beside a baseline measured in the same run:
 *   - in memory: the raw node:crypto operations the transaction needs, done directly
 *     (the engine's overhead is the ratio);
 *   - durable: the raw atomic writes the retry-counter rule needs (one per change, two per
 *     correct VERIFY), of the size the card writes (its key-store counter record), each
 *     write-temp / fsync / rename / fsync of the folder, as FileBlobStore and SoftwareKeyStore do.
 * Nothing here asserts a time; docs/benchmarks.md records the figures.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  BASIC_AID, Card, CARD_MODULES, CommandApdu, FileBlobStore, MemoryCardStore, SealedCardStore, cardIdOf, cardSerial, manufactureBlankCard,
  retryCounterName, type CardDevice, type CardStore,
} from '../src/card/index.ts';
import { Scp03HostChannel, SoftwareKeyStore, secureRandom, type KeyStore, type Scp03StaticKeys } from '../src/crypto/index.ts';
import { Host, KEYS, personalise } from '../test/card/helpers.ts';
import { budget, measure, report, type Benchmark, type Measurement } from './harness.ts';
import { performance } from 'node:perf_hooks';

const PIN = Uint8Array.from(Buffer.from('1234', 'ascii'));
const SELECT_BASIC = CommandApdu.of({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: BASIC_AID }).encode();
const VERIFY = CommandApdu.of({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x81, data: PIN }).encode();

function swOf(r: Uint8Array): number {
  return (r[r.length - 2]! << 8) | r[r.length - 1]!;
}

function expectOk(r: Uint8Array, what: string): Uint8Array {
  const sw = swOf(r);
  if (sw !== 0x9000) throw new Error(`${what}: SW ${sw.toString(16)}`);
  return r.subarray(0, r.length - 2);
}

/** One identity verification, as the terminal (SELECT, VERIFY) and the national center (SCP03, READ) do it. */
export function identityVerification(card: CardDevice, keys: Scp03StaticKeys): Uint8Array {
  expectOk(card.transmit(SELECT_BASIC), 'SELECT');
  expectOk(card.transmit(VERIFY), 'VERIFY');
  const host = new Scp03HostChannel({ keys, level: 0x33 });
  const iu = host.initializeUpdateCommand(keys.kvn);
  const r1 = card.transmit(CommandApdu.of({ cla: iu.cla, ins: iu.ins, p1: iu.p1, p2: iu.p2, data: iu.data, ne: 256 }).encode());
  const ea = host.onInitializeUpdateResponse(r1.subarray(0, r1.length - 2), swOf(r1));
  const r2 = card.transmit(CommandApdu.of({ cla: ea.cla, ins: ea.ins, p1: ea.p1, p2: ea.p2, data: ea.data }).encode());
  host.onExternalAuthenticateResponse(swOf(r2));
  const w = host.wrapCommand({ cla: 0x00, ins: 0xb0, p1: 0x82, p2: 0x00, data: new Uint8Array(0), le: 0 });
  const r3 = card.transmit(CommandApdu.of({ cla: w.cla, ins: w.ins, p1: w.p1, p2: w.p2, data: w.data, ne: 256 }).encode());
  const code = host.unwrapResponse(r3.subarray(0, r3.length - 2), swOf(r3));
  host.close();
  if (code.length !== 11) throw new Error(`resident code: got ${code.length} bytes`);
  return code;
}

/** An active card (personalised over SCP03 with the test keys, PIN 1234) in `store`. */
function activeCardIn(store: CardStore, serial: Uint8Array): Card {
  manufactureBlankCard(store, { serial, transportKeys: KEYS.transport });
  const card = new Card({ store, types: CARD_MODULES });
  card.powerOn();
  const host = new Host(card);
  personalise(host);
  host.select(BASIC_AID);
  if (host.send(0x00, 0x24, 0x01, 0x81, PIN).sw !== 0x9000) throw new Error('PIN not set');
  return card;
}

// ---- the raw floor in memory: the same node:crypto work, done directly -------------------------

const ZERO = Buffer.alloc(16);

function dbl(b: Buffer): Buffer {
  const o = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) o[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 0xff;
  if (b[0]! & 0x80) o[15]! ^= 0x87;
  return o;
}

/** AES-128-CMAC the plain way: subkeys from one ECB block, then one CBC pass (2 cipher set-ups). */
function rawCmac(key: Uint8Array, msg: Uint8Array): Buffer {
  const e = createCipheriv('aes-128-ecb', key, null);
  e.setAutoPadding(false);
  const k1 = dbl(e.update(ZERO));
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const m = Buffer.alloc(n * 16);
  m.set(msg);
  const complete = msg.length > 0 && msg.length % 16 === 0;
  const k = complete ? k1 : dbl(k1);
  if (!complete) m[msg.length] = 0x80;
  for (let i = 0; i < 16; i++) m[(n - 1) * 16 + i]! ^= k[i]!;
  const c = createCipheriv('aes-128-cbc', key, ZERO);
  c.setAutoPadding(false);
  return c.update(m).subarray((n - 1) * 16);
}

const K16 = randomBytes(16);
const M32 = randomBytes(32); // KDF input: 11 + 1 + 1 + 2 + 1 + 16 bytes
const M21 = randomBytes(21); // C-MAC input of EXTERNAL AUTHENTICATE: MCV 16 + header 4 + Lc 1 + cryptogram 8 (29) … rounded by padding to 2 blocks
const PIN_KEY = randomBytes(32);

/**
 * What the transaction needs of node:crypto, counted from GP Amd D and the PIN rule, each done
 * directly: per side 3 session-key KDFs, the card cryptogram, the host cryptogram, the EXTERNAL
 * AUTHENTICATE C-MAC, the READ C-MAC and the R-MAC (8 AES-CMACs × 2 sides = 16), the R-ENC ICV
 * and CBC on each side, one HMAC-SHA256 for the PIN, two 8-byte challenges.
 */
function rawTransaction(): void {
  for (let side = 0; side < 2; side++) {
    for (let i = 0; i < 3; i++) rawCmac(K16, M32); // S-ENC, S-MAC, S-RMAC
    rawCmac(K16, M32); // card cryptogram
    rawCmac(K16, M32); // host cryptogram
    rawCmac(K16, M21); // EXTERNAL AUTHENTICATE C-MAC
    rawCmac(K16, M21); // READ BINARY C-MAC
    rawCmac(K16, M32); // R-MAC over MCV ‖ 16 bytes ‖ SW
    const e = createCipheriv('aes-128-ecb', K16, null); // response ICV
    e.setAutoPadding(false);
    const icv = e.update(ZERO);
    const c = side === 0 ? createCipheriv('aes-128-cbc', K16, icv) : createDecipheriv('aes-128-cbc', K16, icv);
    c.setAutoPadding(false);
    c.update(M32.subarray(0, 16));
    c.final();
    randomBytes(8); // card challenge / host challenge
  }
  createHmac('sha256', PIN_KEY).update(PIN).digest(); // the sealed PIN to compare
}

/**
 * The least node:crypto work the transaction can be done with: every key set up once (the
 * card's static keys stay set up between sessions, as the engine keeps them): 9 AES contexts
 * (card: S-ENC, S-MAC, S-RMAC; host: K-ENC, K-MAC, S-ENC encrypt and decrypt, S-MAC, S-RMAC),
 * each finalised after; 26 AES calls of one or two blocks (card 12, host 14: the subkeys, KDFs,
 * cryptograms, MACs, ICVs and the R-ENC block); one HMAC; two pooled 8-byte challenges.
 */
function rawFloorTransaction(): void {
  const contexts: ReturnType<typeof createCipheriv>[] = [];
  for (let i = 0; i < 8; i++) {
    const c = createCipheriv('aes-128-ecb', K16, null);
    c.setAutoPadding(false);
    contexts.push(c);
  }
  const d = createDecipheriv('aes-128-ecb', K16, null);
  d.setAutoPadding(false);
  for (let i = 0; i < 25; i++) contexts[i % 8]!.update(i % 3 === 0 ? M32 : ZERO);
  d.update(ZERO);
  for (const c of contexts) c.final();
  d.final();
  createHmac('sha256', PIN_KEY).update(PIN).digest();
  secureRandom(8);
  secureRandom(8);
}

// ---- the raw floor on disk: atomic writes of the image's size ---------------------------------

function rawAtomicWrite(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * Measure synchronous operations in turn, one of each per round, for the budget × their count:
 * each sees the same disk and load. `median` (of the first): the median over rounds of its time
 * divided by the second's in the same round.
 */
function measureInterleaved(ops: readonly { name: string; op: () => unknown }[], warmup: number): (Measurement & { median: number })[] {
  for (const { op } of ops) for (let i = 0; i < warmup; i++) op();
  const wall = ops.map(() => 0);
  const cpu = ops.map(() => 0);
  const ratios: number[] = [];
  let rounds = 0;
  const end = performance.now() + budget() * ops.length * 1000;
  while (performance.now() < end) {
    const times: number[] = [];
    for (let k = 0; k < ops.length; k++) {
      const c = process.cpuUsage();
      const t = performance.now();
      ops[k]!.op();
      const dt = performance.now() - t;
      const u = process.cpuUsage(c);
      wall[k]! += dt;
      cpu[k]! += u.user + u.system;
      times.push(dt);
    }
    if (times.length > 1) ratios.push(times[0]! / times[1]!);
    rounds++;
  }
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)] ?? NaN;
  return ops.map((o, k) => ({ name: o.name, ops: rounds, seconds: wall[k]! / 1000, perSecond: rounds / (wall[k]! / 1000), perCpuSecond: rounds / Math.max(cpu[k]! / 1e6, 1e-9), median }));
}

/** A FileBlobStore that counts its atomic writes. */
class CountingBlobStore extends FileBlobStore {
  writes = 0;
  override write(bytes: Uint8Array, hook: (p: string) => void): void {
    this.writes++;
    super.write(bytes, hook);
  }
}

/** A key store that counts its durable counter writes: PIN retry counters and the image generation apart. */
function countingKeyStore(inner: KeyStore): KeyStore & { writes: number; retryWrites: number } {
  const ks = {
    writes: 0,
    retryWrites: 0,
    description: inner.description,
    secretKey: (n: string, c?: boolean) => inner.secretKey(n, c),
    hasKey: (n: string) => inner.hasKey(n),
    destroyKey: (n: string) => inner.destroyKey(n),
    readCounter: (n: string) => inner.readCounter(n),
    advanceCounter: (n: string, v: number) => {
      if (v !== inner.readCounter(n)) {
        if (n.includes(':pin:')) ks.retryWrites++;
        else ks.writes++;
      }
      inner.advanceCounter(n, v);
    },
  };
  return ks;
}

export const benchmarks: Benchmark[] = [
  {
    name: 'card: identity verification in-process, card storage in memory',
    async run(print) {
      const serial = cardSerial(0x4a4b, 1, 1);
      const card = activeCardIn(new MemoryCardStore(cardIdOf(serial)), serial);
      const tx = await measure('identity verification (memory store)', () => identityVerification(card, KEYS.basic), { warmup: 500 });
      const raw = await measure('raw: its CMAC/CBC/HMAC calls, each set up anew', rawTransaction, { warmup: 500 });
      const floor = await measure('raw floor: 9 AES contexts, 26 AES calls, 1 HMAC', rawFloorTransaction, { warmup: 500 });
      print(report(raw));
      print(report(floor));
      print(report(tx, floor, `engine overhead over the floor: ${(1e6 / tx.perCpuSecond - 1e6 / floor.perCpuSecond).toFixed(1)} µs CPU/tx`));
      print(report(tx, raw, `goal ≥ 10,000/CPU-s; ${(1e6 / tx.perCpuSecond).toFixed(1)} µs CPU/tx, raw ${(1e6 / raw.perCpuSecond).toFixed(1)} µs`));
    },
  },
  {
    name: 'card: identity verification in-process, durable card storage (SealedCardStore on files, SoftwareKeyStore)',
    async run(print) {
      const dir = mkdtempSync(join(tmpdir(), 'juki-bench-card-'));
      try {
        const serial = cardSerial(0x4a4b, 1, 2);
        const keyStore = countingKeyStore(new SoftwareKeyStore(join(dir, 'keystore')));
        const imagePath = join(dir, `${cardIdOf(serial)}.card`);
        const blobs = new CountingBlobStore(imagePath);
        const card = activeCardIn(new SealedCardStore({ cardId: cardIdOf(serial), keyStore, blobs }), serial);
        const size = statSync(imagePath).size;
        const recordSize = statSync(join(dir, 'keystore', `${retryCounterName(cardIdOf(serial), BASIC_AID, 1)}.ctr`)).size;
        // How many writes one transaction makes (image blobs, PIN retry-counter records, generation records).
        const [b0, r0, k0] = [blobs.writes, keyStore.retryWrites, keyStore.writes];
        identityVerification(card, KEYS.basic);
        const blobWrites = blobs.writes - b0;
        const retryWrites = keyStore.retryWrites - r0;
        const counterWrites = keyStore.writes - k0;
        // The floor: one atomic write per retry-counter change. A correct VERIFY changes the
        // counter twice (decrement before the comparison, restore after the match): 2 writes,
        // of the record the card writes. docs/benchmarks.md explains why neither can be dropped
        // or merged. The image-sized floor is printed too (the floor of the figures before).
        // Interleaved, one of each per round: fsync latency on a shared disk swings by 3× within
        // seconds, so measuring each for its own seconds compares different disks.
        const floorPath = join(dir, 'floor.bin');
        const bytes = randomBytes(recordSize);
        const big = randomBytes(size);
        const [tx, floor, floorBig] = measureInterleaved([
          { name: 'identity verification (sealed file store)', op: () => identityVerification(card, KEYS.basic) },
          { name: `raw floor: 2 atomic writes of ${recordSize} bytes (one per retry-counter change)`, op: () => (rawAtomicWrite(floorPath, bytes), rawAtomicWrite(floorPath, bytes)) },
          { name: `raw: 2 atomic writes of ${size} bytes (the image's size)`, op: () => (rawAtomicWrite(floorPath, big), rawAtomicWrite(floorPath, big)) },
        ], 20);
        const wall = { cpu: false };
        print(report(floor!, undefined, '', wall));
        print(report(floorBig!, floor, '', wall));
        print(report(tx!, floor, `time ${(floor!.perSecond / tx!.perSecond).toFixed(2)}× the floor's (median of rounds ${tx!.median.toFixed(2)}×; goal ≤ 1.2×); ${retryWrites} retry-counter record write(s) + ${blobWrites} image write(s) + ${counterWrites} generation record write(s) per tx; ${(1e3 / tx!.perSecond).toFixed(2)} ms/tx`, wall));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
