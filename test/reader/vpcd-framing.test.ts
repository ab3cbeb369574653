/**
 * The vpcd wire format and the card-side bridge, against an in-process fake vpcd (no pcscd):
 * split and coalesced frames, control bytes, never an empty R-APDU, reconnecting.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import {
  attachToVpcd,
  EchoCard,
  ECHO_AID,
  ECHO_ATR,
  encodeFrame,
  FrameDecoder,
  type VpcdAttachment,
  type VpcdCardEvent,
  type VpcdLogLevel,
} from '../../src/reader/index.ts';
import type { CardDevice } from '../../src/card/index.ts';
import { fromHex, toHex } from '../../src/util/index.ts';
import { FakeVpcd } from './fake-vpcd.ts';

const SELECT_ECHO = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, ECHO_AID.length, ...ECHO_AID]);
const echo = (data: number[]) => Uint8Array.from([0x80, 0xee, 0x00, 0x00, data.length, ...data]);

/** Poll a condition with a bounded deadline (for states with no event to wait on). */
async function until(what: string, check: () => boolean, deadlineMs = 5000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

function capture(): { lines: Array<[VpcdLogLevel, string]>; log: (l: VpcdLogLevel, m: string) => void } {
  const lines: Array<[VpcdLogLevel, string]> = [];
  return { lines, log: (l, m) => lines.push([l, m]) };
}

async function attached(device: CardDevice, extra: Parameters<typeof attachToVpcd>[1] = {}): Promise<{ vpcd: FakeVpcd; card: VpcdAttachment }> {
  const vpcd = await FakeVpcd.listen();
  const card = attachToVpcd(device, { port: vpcd.port, log: () => {}, ...extra });
  await vpcd.whenClient();
  return { vpcd, card };
}

describe('vpcd frame codec', () => {
  test('a frame is a 2-byte big-endian length then the payload', () => {
    assert.equal(toHex(encodeFrame(Uint8Array.of(0x04))), '000104');
    assert.equal(toHex(encodeFrame(fromHex('9000'))), '00029000');
    assert.equal(encodeFrame(new Uint8Array(0x1234)).readUInt16BE(0), 0x1234);
  });

  test('a payload over 65535 bytes is refused', () => {
    assert.equal(encodeFrame(new Uint8Array(65535)).length, 65537);
    assert.throws(() => encodeFrame(new Uint8Array(65536)), { code: 'JUKI_ERR_INVALID_INPUT' });
  });

  test('frames split at every byte boundary are put back together', () => {
    const stream = Buffer.concat([encodeFrame(Uint8Array.of(0x01)), encodeFrame(SELECT_ECHO), encodeFrame(Uint8Array.of(0x04))]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      assert.deepEqual(frames.map(toHex), ['01', toHex(SELECT_ECHO), '04'], `cut at ${cut}`);
      assert.equal(d.pending, 0);
    }
  });

  test('a stream fed one byte at a time yields each frame once it is complete', () => {
    const d = new FrameDecoder();
    const stream = encodeFrame(SELECT_ECHO);
    for (let i = 0; i < stream.length - 1; i++) assert.deepEqual(d.push(stream.subarray(i, i + 1)), []);
    assert.equal(d.pending, stream.length - 1);
    assert.deepEqual(d.push(stream.subarray(stream.length - 1)).map(toHex), [toHex(SELECT_ECHO)]);
  });

  test('coalesced frames come out in order, including an empty one and a 65535-byte one', () => {
    const big = new Uint8Array(65535).map((_, i) => i & 0xff);
    const d = new FrameDecoder();
    const frames = d.push(Buffer.concat([encodeFrame(Uint8Array.of(0x00)), encodeFrame(new Uint8Array(0)), encodeFrame(big), encodeFrame(Uint8Array.of(0x02))]));
    assert.deepEqual(frames.map((f) => f.length), [1, 0, 65535, 1]);
    assert.deepEqual(frames[2], big);
  });
});

describe('vpcd bridge (card side) against a fake vpcd', () => {
  test('connecting is not attaching: the card is attached at the first frame vpcd sends', async () => {
    const { vpcd, card } = await attached(new EchoCard());
    assert.equal(card.attached, false);
    const attachedEvent = once(card, 'attached');
    assert.deepEqual(await vpcd.getAtr(), ECHO_ATR);
    await attachedEvent;
    assert.equal(card.attached, true);
    await card.close();
    await vpcd.stop();
  });

  test('power on, off and reset reach the card and get no reply; GET ATR gets the ATR', async () => {
    const device = new EchoCard();
    const events: string[] = [];
    const { vpcd, card } = await attached(device, { onChange: (e: VpcdCardEvent) => events.push(e.kind) });
    await vpcd.send(Uint8Array.of(0x01));
    // A reply to a control byte would arrive before the ATR and desynchronise the stream.
    assert.deepEqual(await vpcd.getAtr(), ECHO_ATR);
    assert.equal(device.powered, true);
    await vpcd.send(Uint8Array.of(0x02));
    assert.deepEqual(await vpcd.getAtr(), ECHO_ATR);
    await vpcd.send(Uint8Array.of(0x00));
    assert.deepEqual(await vpcd.getAtr(), ECHO_ATR);
    assert.equal(device.powered, false);
    assert.equal(vpcd.unreadFrames, 0);
    assert.deepEqual(events, ['power-on', 'reset', 'power-off']);
    await card.close();
    await vpcd.stop();
  });

  test('an unknown control byte is logged and not answered', async () => {
    const { lines, log } = capture();
    const { vpcd, card } = await attached(new EchoCard(), { log });
    await vpcd.send(Uint8Array.of(0x03));
    assert.deepEqual(await vpcd.getAtr(), ECHO_ATR);
    assert.ok(lines.some(([l, m]) => l === 'warn' && m.includes('unknown control byte 03')), JSON.stringify(lines));
    await card.close();
    await vpcd.stop();
  });

  test('APDUs are answered with data ‖ SW by the card', async () => {
    const { vpcd, card } = await attached(new EchoCard());
    await vpcd.send(Uint8Array.of(0x01));
    assert.equal(toHex(await vpcd.apdu(SELECT_ECHO)), '9000');
    assert.equal(toHex(await vpcd.apdu(echo([1, 2, 3]))), '0102039000');
    assert.equal(toHex(await vpcd.apdu(fromHex('00A4040006A00000000101'))), '6A82');
    await card.close();
    await vpcd.stop();
  });

  test('a frame split across TCP writes is answered once complete', async () => {
    const { vpcd, card } = await attached(new EchoCard());
    await vpcd.send(Uint8Array.of(0x01));
    const frame = encodeFrame(SELECT_ECHO);
    await vpcd.writeRaw(frame.subarray(0, 1));
    await until('the first byte to arrive', () => card.bufferedBytes === 1);
    await vpcd.writeRaw(frame.subarray(1, 7));
    await until('seven bytes to arrive', () => card.bufferedBytes === 7);
    await vpcd.writeRaw(frame.subarray(7));
    assert.equal(toHex(await vpcd.nextFrame()), '9000');
    assert.equal(card.bufferedBytes, 0);
    await card.close();
    await vpcd.stop();
  });

  test('coalesced frames in one TCP write are each answered, in order', async () => {
    const { vpcd, card } = await attached(new EchoCard());
    await vpcd.writeRaw(
      Buffer.concat([
        encodeFrame(Uint8Array.of(0x01)),
        encodeFrame(Uint8Array.of(0x04)),
        encodeFrame(SELECT_ECHO),
        encodeFrame(echo([0xaa])),
        encodeFrame(Uint8Array.of(0x00)),
      ]),
    );
    assert.deepEqual(await vpcd.nextFrame(), ECHO_ATR);
    assert.equal(toHex(await vpcd.nextFrame()), '9000');
    assert.equal(toHex(await vpcd.nextFrame()), 'AA9000');
    assert.equal(toHex(await vpcd.getAtr()), toHex(ECHO_ATR));
    await card.close();
    await vpcd.stop();
  });

  test('an extended APDU with the largest frame vpcd carries round-trips', async () => {
    const { vpcd, card } = await attached(new EchoCard());
    await vpcd.send(Uint8Array.of(0x01));
    assert.equal(toHex(await vpcd.apdu(SELECT_ECHO)), '9000');
    // 7-byte extended header + Lc data + 2-byte Le = 65535; the reply is data + SW = 65528.
    const data = new Uint8Array(65535 - 9).map((_, i) => (i * 7) & 0xff);
    const cmd = Uint8Array.from([0x80, 0xee, 0x00, 0x00, 0x00, data.length >> 8, data.length & 0xff, ...data, 0x00, 0x00]);
    assert.equal(cmd.length, 65535);
    const reply = await vpcd.apdu(cmd);
    assert.equal(reply.length, data.length + 2);
    assert.deepEqual(reply.subarray(0, data.length), data);
    assert.equal(toHex(reply.subarray(data.length)), '9000');
    await card.close();
    await vpcd.stop();
  });

  test('a card that throws is answered 6F00 and logged, never with an empty R-APDU', async () => {
    const { lines, log } = capture();
    const broken: CardDevice = Object.assign(new EchoCard(), {
      transmit(): Uint8Array {
        throw new Error('engine fault');
      },
    });
    const { vpcd, card } = await attached(broken, { log });
    await vpcd.send(Uint8Array.of(0x01));
    assert.equal(toHex(await vpcd.apdu(SELECT_ECHO)), '6F00');
    assert.ok(lines.some(([l, m]) => l === 'error' && m.includes('engine fault') && m.includes('6F00')), JSON.stringify(lines));
    await card.close();
    await vpcd.stop();
  });

  test('a card that answers with no status word is answered 6F00 and logged', async () => {
    const { lines, log } = capture();
    const mute: CardDevice = Object.assign(new EchoCard(), { transmit: () => new Uint8Array(0) });
    const { vpcd, card } = await attached(mute, { log });
    assert.equal(toHex(await vpcd.apdu(SELECT_ECHO)), '6F00');
    assert.ok(lines.some(([l]) => l === 'error'));
    await card.close();
    await vpcd.stop();
  });

  test('onChange runs before the reply; when it fails the APDU is answered 6F00', async () => {
    const { lines, log } = capture();
    let fail = false;
    const seen: string[] = [];
    const { vpcd, card } = await attached(new EchoCard(), {
      log,
      onChange: (e) => {
        if (e.kind === 'apdu') seen.push(`${toHex(e.command.subarray(0, 2))}>${toHex(e.response)}`);
        if (fail) throw new Error('disk full');
      },
    });
    await vpcd.send(Uint8Array.of(0x01));
    assert.equal(toHex(await vpcd.apdu(SELECT_ECHO)), '9000');
    assert.deepEqual(seen, ['00A4>9000']);
    fail = true;
    assert.equal(toHex(await vpcd.apdu(echo([1]))), '6F00');
    assert.ok(lines.some(([l, m]) => l === 'error' && m.includes('disk full')));
    await card.close();
    await vpcd.stop();
  });

  test('a card whose ATR fails detaches itself rather than leave vpcd waiting', async () => {
    const { lines, log } = capture();
    const noAtr: CardDevice = Object.assign(new EchoCard(), {});
    Object.defineProperty(noAtr, 'atr', { get: () => new Uint8Array(0) });
    const { vpcd, card } = await attached(noAtr, { log });
    const gone = once(card, 'disconnected');
    await vpcd.send(Uint8Array.of(0x04));
    await gone;
    assert.ok(lines.some(([l, m]) => l === 'error' && m.includes('empty ATR')));
    await card.close();
    await vpcd.stop();
  });

  test('the card keeps retrying while vpcd is not listening, then attaches', async () => {
    // A port that was free a moment ago: nothing listens on it until the fake starts.
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const card = attachToVpcd(new EchoCard(), { port, minBackoffMs: 5, maxBackoffMs: 20, log: () => {} });
    const delays: number[] = [];
    card.on('retrying', ({ delayMs }) => delays.push(delayMs));
    await until('two refused attempts', () => delays.length >= 2);
    assert.equal(delays[0], 5);
    assert.equal(delays[1], 10);
    const vpcd = await FakeVpcd.listen(port);
    await vpcd.whenClient();
    assert.deepEqual(await vpcd.getAtr(), ECHO_ATR);
    assert.equal(card.attached, true);
    await card.close();
    await vpcd.stop();
  });

  test('after vpcd goes away and comes back (pcscd restart) the card re-attaches by itself', async () => {
    const device = new EchoCard();
    const { vpcd, card } = await attached(device, { minBackoffMs: 5, maxBackoffMs: 20 });
    await vpcd.send(Uint8Array.of(0x01));
    assert.equal(toHex(await vpcd.apdu(SELECT_ECHO)), '9000');
    const dropped = once(card, 'disconnected');
    await vpcd.stop();
    const [info] = (await dropped) as [{ attached: boolean }];
    assert.equal(info.attached, true);
    assert.equal(card.attached, false);

    await vpcd.start();
    await vpcd.whenClient();
    assert.equal(vpcd.connections, 2);
    // A new pcscd powers the card up afresh: the old selection is gone.
    await vpcd.send(Uint8Array.of(0x01));
    assert.equal(toHex(await vpcd.apdu(echo([9]))), '6D00');
    assert.equal(toHex(await vpcd.apdu(SELECT_ECHO)), '9000');
    assert.equal(toHex(await vpcd.apdu(echo([9]))), '099000');
    await card.close();
    await vpcd.stop();
  });

  test('close() resolves once the socket is closed and stops reconnecting', async () => {
    const { vpcd, card } = await attached(new EchoCard(), { minBackoffMs: 5 });
    await vpcd.getAtr();
    const retries: unknown[] = [];
    card.on('retrying', (r) => retries.push(r));
    const closed = once(card, 'closed');
    await card.close();
    await closed;
    assert.equal(card.attached, false);
    assert.deepEqual(retries, []);
    await card.close(); // idempotent
    await vpcd.stop();
    assert.equal(vpcd.connections, 1);
  });
});
