/**
 * Interoperability with the real PC/SC stack: a private pcscd (Debian's pcscd + vsmartcard's
 * vpcd driver), the echo card attached through the vpcd bridge, and real clients talking to
 * it: OpenSC's opensc-tool and juki's own PC/SC transport over the `smartcard` binding.
 *
 * Each card runs in its own process, as `juki card vpcd` does: the binding's disconnect is
 * synchronous, and a card in this thread could not answer pcscd while it blocks.
 *
 * Needs the Debian packages in PCSC_APT_PACKAGES (.ci/run installs them); without them the
 * tests fail, naming the packages. Runs as root (pcscd in its own mount namespace).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import {
  ECHO_AID,
  ECHO_ATR,
  ECHO_EXACT_LE,
  ECHO_VIA_GET_RESPONSE,
  openPcsc,
  send,
  transmitChecked,
  type PcscContext,
} from '../../src/reader/index.ts';
import { toHex } from '../../src/util/index.ts';
import { requirePcscTools, startEchoCardProcess, startPcscd, type CardProcess, type Pcscd } from '../helpers/pcscd.ts';

const run = promisify(execFile);
const SELECT_ECHO = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, ECHO_AID.length, ...ECHO_AID]);
const bytes = (n: number, seed = 1) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const WAIT_MS = 15_000;
/** A hung PC/SC call fails its test instead of hanging the run. */
const T = { timeout: 60_000 };

function echo(data: Uint8Array, mode = 0): Uint8Array {
  if (data.length <= 255) return Uint8Array.from([0x80, 0xee, mode, 0x00, data.length, ...data]);
  return Uint8Array.from([0x80, 0xee, mode, 0x00, 0x00, data.length >> 8, data.length & 0xff, ...data, 0x00, 0x00]);
}

// Its own test, so that a machine without the packages fails with their names in the report.
test('the Debian PC/SC packages are installed (pcscd, vsmartcard-vpcd, opensc)', () => {
  requirePcscTools();
});

describe('PC/SC interoperability: pcscd + vpcd + the echo card', () => {
  let pcscd: Pcscd;
  /** The card in vpcd's slot 0. */
  let card: CardProcess;
  let pcsc: PcscContext;
  const cards: CardProcess[] = [];

  /** Run an OpenSC tool against the private pcscd (asynchronously: the card answers from this process). */
  async function opensc(...args: string[]): Promise<string> {
    const { stdout, stderr } = await run('opensc-tool', args, { env: pcscd.env, timeout: 60_000 });
    return stdout + stderr;
  }

  async function attach(slot: 0 | 1): Promise<CardProcess> {
    const c = await startEchoCardProcess(pcscd, slot);
    cards.push(c);
    return c;
  }

  before(async () => {
    pcscd = await startPcscd({ debug: process.env.JUKI_PCSCD_DEBUG === '1' });
    // libpcsclite reads this once, at the first context: before openPcsc.
    process.env.PCSCLITE_CSOCK_NAME = pcscd.socketPath;
    card = await attach(0);
    await card.whenAttached();
    pcsc = await openPcsc();
    await pcsc.waitForCard(pcscd.readerName(0), WAIT_MS);
  });

  after(async () => {
    if (process.env.JUKI_PCSCD_DEBUG === '1') process.stderr.write(pcscd?.output() ?? '');
    try {
      pcsc?.close();
    } catch {
      // a context from before a pcscd restart may already be dead
    }
    await Promise.all(cards.map((c) => c.close()));
    await pcscd?.stop();
  });

  test('opensc-tool -l lists both vpcd readers, the first with a card', T, async () => {
    const out = await opensc('-l');
    assert.match(out, new RegExp(`^0\\s+Yes\\s+${pcscd.readerName(0)}$`, 'm'), out);
    assert.match(out, new RegExp(`^1\\s+No\\s+${pcscd.readerName(1)}$`, 'm'), out);
  });

  test('opensc-tool -a prints the echo card\'s ATR', T, async () => {
    const out = await opensc('-r', '0', '-a');
    assert.match(out, /^3b:80:80:01:01$/m, out);
  });

  test('opensc-tool -s sends APDUs and prints the echoed data', T, async () => {
    const out = await opensc('-r', '0', '-c', 'default', '-s', toHex(SELECT_ECHO), '-s', '80EE000003010203');
    assert.match(out, /Sending: 00 A4 04 00 09 F0 4A 55 4B 49 45 43 48 4F\s*\nReceived \(SW1=0x90, SW2=0x00\)/, out);
    assert.match(out, /Sending: 80 EE 00 00 03 01 02 03\s*\nReceived \(SW1=0x90, SW2=0x00\):\s*\n01 02 03/, out);
  });

  test('OpenSC\'s driver probes get real refusals: the card is not taken for a MuscleApplet', T, async () => {
    const out = await opensc('-r', '0', '-n');
    assert.doesNotMatch(out, /muscle/i, out);
    assert.match(out, /Unsupported card/, out);
  });

  test('the PC/SC transport lists the readers and connects with the card\'s ATR over T=1', T, async () => {
    assert.deepEqual(pcsc.listReaders(), [pcscd.readerName(0), pcscd.readerName(1)]);
    assert.equal(await pcsc.reader(pcscd.readerName(0)).cardPresent(), true);
    assert.equal(await pcsc.reader(pcscd.readerName(1)).cardPresent(), false);
    const t = await pcsc.connect(pcscd.readerName(0));
    try {
      assert.deepEqual(t.atr, ECHO_ATR);
      assert.equal(t.protocol, 2, 'vpcd always runs T=1 (SCARD_PROTOCOL_T1 = 2)');
      await transmitChecked(t, SELECT_ECHO);
      for (const n of [1, 17, 128, 255]) assert.deepEqual(await transmitChecked(t, echo(bytes(n, n))), bytes(n, n), `${n} bytes`);
    } finally {
      await t.close();
    }
    await assert.rejects(pcsc.connect('no such reader'), { code: 'JUKI_ERR_READER' });
  });

  test('extended APDUs pass through pcscd and vpcd, up to the largest frame vpcd carries', T, async () => {
    const t = await pcsc.connect(pcscd.readerName(0));
    try {
      await transmitChecked(t, SELECT_ECHO);
      // 65526 data bytes: a 65535-byte command (7 + Lc + 2), a 65528-byte response.
      for (const n of [256, 1000, 4000, 65526]) {
        assert.deepEqual(await transmitChecked(t, echo(bytes(n, 3))), bytes(n, 3), `${n} bytes`);
      }
    } finally {
      await t.close();
    }
  });

  test('send chains GET RESPONSE and corrects Le through PC/SC as it does in process', T, async () => {
    const t = await pcsc.connect(pcscd.readerName(0));
    try {
      await transmitChecked(t, SELECT_ECHO);
      assert.deepEqual(await transmitChecked(t, echo(bytes(700, 5), ECHO_VIA_GET_RESPONSE)), bytes(700, 5));
      const exact = Uint8Array.from([0x80, 0xee, ECHO_EXACT_LE, 0x00, 0x05, 1, 2, 3, 4, 5, 0x00]);
      assert.equal(toHex(await t.transmit(exact)), '6C05');
      assert.equal(toHex(await send(t, exact)), '01020304059000');
    } finally {
      await t.close();
    }
  });

  test('a second card on vpcd\'s second slot is driven independently', T, async () => {
    const second = await attach(1);
    await second.whenAttached();
    await pcsc.waitForCard(pcscd.readerName(1), WAIT_MS);
    const [t0, t1] = await Promise.all([pcsc.connect(pcscd.readerName(0)), pcsc.connect(pcscd.readerName(1))]);
    try {
      await transmitChecked(t1, SELECT_ECHO);
      // Deselect on slot 0 only (a failed SELECT leaves nothing selected): slot 1 keeps its selection.
      assert.equal(toHex(await t0.transmit(Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x02, 0xa0, 0x00]))), '6A82');
      assert.equal(toHex(await t0.transmit(echo(Uint8Array.of(1)))), '6D00');
      assert.equal(toHex(await transmitChecked(t1, echo(Uint8Array.of(0x11)))), '11');
      await transmitChecked(t0, SELECT_ECHO);
      assert.equal(toHex(await transmitChecked(t0, echo(Uint8Array.of(0x00)))), '00');
      assert.equal((await second.status()).commands, 2);
    } finally {
      await Promise.all([t0.close(), t1.close()]);
    }
    await second.close();
  });

  test('a card that connects to a busy slot waits until the slot frees (connect is not attach)', T, async () => {
    const waiting = await attach(0);
    await once(waiting.events, 'connected');
    // vpcd polls the first card a few times a second; the newcomer sits in the kernel's backlog.
    const t = await pcsc.connect(pcscd.readerName(0));
    await transmitChecked(t, SELECT_ECHO);
    await t.close();
    assert.deepEqual(await waiting.status(), { attached: false, commands: 0 });

    const takeover = waiting.whenAttached();
    await card.close();
    await takeover;
    await pcsc.waitForCard(pcscd.readerName(0), WAIT_MS);
    const t2 = await pcsc.connect(pcscd.readerName(0));
    await transmitChecked(t2, SELECT_ECHO);
    await t2.close();
    assert.equal((await waiting.status()).commands, 1);
    // The newcomer is slot 0's card from here on.
    card = waiting;
  });

  test('after pcscd restarts, the card re-attaches by itself and answers new PC/SC sessions', T, async () => {
    const before = (await card.status()).commands;
    const dropped = once(card.events, 'disconnected');
    pcsc.close();
    await pcscd.restart();
    await dropped;
    await card.whenAttached();
    pcsc = await openPcsc();
    await pcsc.waitForCard(pcscd.readerName(0), WAIT_MS);
    const t = await pcsc.connect(pcscd.readerName(0));
    try {
      await transmitChecked(t, SELECT_ECHO);
      assert.equal(toHex(await transmitChecked(t, echo(Uint8Array.of(0x42)))), '42');
    } finally {
      await t.close();
    }
    assert.equal((await card.status()).commands, before + 2);
    const out = await opensc('-r', '0', '-a');
    assert.match(out, /^3b:80:80:01:01$/m, out);
  });
});
