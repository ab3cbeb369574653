/**
 * The host-side transport contract, in process: GET RESPONSE chaining on 61xx, re-sending
 * with the right Le on 6Cxx, checked status words, virtual reader slots, and the echo card.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  EchoCard,
  ECHO_AID,
  ECHO_ATR,
  ECHO_EXACT_LE,
  ECHO_VIA_GET_RESPONSE,
  getResponseCla,
  InProcessTransport,
  send,
  transmitChecked,
  VirtualReader,
  withLe,
  type CardTransport,
} from '../../src/reader/index.ts';
import { fromHex, toHex } from '../../src/util/index.ts';

const SELECT_ECHO = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, ECHO_AID.length, ...ECHO_AID]);
const bytes = (n: number, seed = 1) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

/** ECHO with P1 `mode`, short or extended by size, with an optional Le. */
function echo(data: Uint8Array, mode = 0, le?: number): Uint8Array {
  if (data.length <= 255) {
    return Uint8Array.from([0x80, 0xee, mode, 0x00, data.length, ...data, ...(le === undefined ? [] : [le & 0xff])]);
  }
  const tail = le === undefined ? [] : [le >> 8, le & 0xff];
  return Uint8Array.from([0x80, 0xee, mode, 0x00, 0x00, data.length >> 8, data.length & 0xff, ...data, ...tail]);
}

/** A transport that records every command it passes on. */
class Recording implements CardTransport {
  readonly sent: string[] = [];
  constructor(private readonly inner: CardTransport) {}
  get atr() {
    return this.inner.atr;
  }
  async transmit(apdu: Uint8Array) {
    this.sent.push(toHex(apdu));
    return this.inner.transmit(apdu);
  }
  close() {
    return this.inner.close();
  }
}

async function selected(): Promise<{ card: EchoCard; t: Recording }> {
  const card = new EchoCard();
  const t = new Recording(new InProcessTransport(card));
  assert.equal(toHex(await t.transmit(SELECT_ECHO)), '9000');
  t.sent.length = 0;
  return { card, t };
}

describe('send: 61xx and 6Cxx, whatever the transport', () => {
  test('61xx is followed by GET RESPONSE until the card has given everything', async () => {
    const { t } = await selected();
    const data = bytes(600);
    const response = await send(t, echo(data, ECHO_VIA_GET_RESPONSE));
    assert.deepEqual(response.subarray(0, 600), data);
    assert.equal(toHex(response.subarray(600)), '9000');
    // 61 00 says 256 or more are waiting: three GET RESPONSE of 256, 256 and the last 88.
    assert.deepEqual(t.sent.slice(1), ['00C0000000', '00C0000000', '00C0000058']);
  });

  test('a short chained answer takes one GET RESPONSE with the length the card named', async () => {
    const { t } = await selected();
    assert.equal(toHex(await send(t, echo(fromHex('0102030405'), ECHO_VIA_GET_RESPONSE))), '01020304059000');
    assert.deepEqual(t.sent.slice(1), ['00C0000005']);
  });

  test('6Cxx makes send re-send the same command with Le = xx', async () => {
    const { t } = await selected();
    const data = bytes(17);
    const command = echo(data, ECHO_EXACT_LE, 0x00);
    assert.equal(toHex(await t.transmit(command)), '6C11');
    t.sent.length = 0;
    const response = await send(t, command);
    assert.equal(toHex(response), toHex(data) + '9000');
    assert.deepEqual(t.sent, [toHex(command), toHex(command).slice(0, -2) + '11']);
  });

  test('6Cxx also works for a command that had no Le at all', async () => {
    const { t } = await selected();
    const command = echo(bytes(3), ECHO_EXACT_LE);
    assert.equal(toHex(await send(t, command)), toHex(bytes(3)) + '9000');
    assert.equal(t.sent[1], toHex(command) + '03');
  });

  test('other status words pass through untouched', async () => {
    const { t } = await selected();
    assert.equal(toHex(await send(t, fromHex('00A4040006A00000000101'))), '6A82');
    assert.equal(t.sent.length, 1);
  });

  test('a card that never stops answering 61xx is cut off with JUKI_ERR_READER', async () => {
    const looping: CardTransport = { atr: ECHO_ATR, transmit: async () => fromHex('6110'), close: async () => {} };
    await assert.rejects(send(looping, fromHex('00B0000000')), { code: 'JUKI_ERR_READER' });
  });

  test('GET RESPONSE keeps the logical channel and drops proprietary class bits', () => {
    assert.equal(getResponseCla(0x00), 0x00);
    assert.equal(getResponseCla(0x80), 0x00);
    assert.equal(getResponseCla(0x83), 0x03);
    assert.equal(getResponseCla(0x0c), 0x00);
    assert.equal(getResponseCla(0x45), 0x45);
    assert.equal(getResponseCla(0x6f), 0x4f);
  });

  test('withLe rewrites Le in each ISO/IEC 7816-3 case, short and extended', () => {
    assert.equal(toHex(withLe(fromHex('00B00000'), 0x10)), '00B0000010'); // case 1
    assert.equal(toHex(withLe(fromHex('00B0000000'), 0x10)), '00B0000010'); // case 2S
    assert.equal(toHex(withLe(fromHex('80EE000002AABB'), 0x02)), '80EE000002AABB02'); // case 3S
    assert.equal(toHex(withLe(fromHex('80EE000002AABB00'), 0x02)), '80EE000002AABB02'); // case 4S
    assert.equal(toHex(withLe(fromHex('00B00000000000'), 0x20)), '00B00000000020'); // case 2E
    assert.equal(toHex(withLe(fromHex('80EE0000000002AABB'), 0x02)), '80EE0000000002AABB0002'); // case 3E
    assert.equal(toHex(withLe(fromHex('80EE0000000002AABB0000'), 0x02)), '80EE0000000002AABB0002'); // case 4E
    assert.throws(() => withLe(fromHex('80EE000005AABB'), 1), { code: 'JUKI_ERR_INVALID_INPUT' });
    assert.throws(() => withLe(fromHex('80EE'), 1), { code: 'JUKI_ERR_INVALID_INPUT' });
  });
});

describe('transmitChecked', () => {
  test('returns the data without the status word on 9000', async () => {
    const { t } = await selected();
    assert.equal(toHex(await transmitChecked(t, echo(fromHex('CAFE')))), 'CAFE');
  });

  test('chains GET RESPONSE before checking', async () => {
    const { t } = await selected();
    assert.deepEqual(await transmitChecked(t, echo(bytes(300), ECHO_VIA_GET_RESPONSE)), bytes(300));
  });

  test('any other status word is JUKI_ERR_CARD_STATUS naming the SW and the command header', async () => {
    const { t } = await selected();
    await assert.rejects(transmitChecked(t, fromHex('00A4040006A00000000101')), (e: any) => {
      assert.equal(e.code, 'JUKI_ERR_CARD_STATUS');
      assert.deepEqual(e.details, { sw: '6A82', command: '00A40400' });
      return true;
    });
  });

  test('accepts the status words the caller lists', async () => {
    const { t } = await selected();
    assert.equal((await transmitChecked(t, fromHex('00A4040006A00000000101'), [0x9000, 0x6a82])).length, 0);
  });
});

describe('InProcessTransport', () => {
  test('powers the card on, gives its ATR, and powers it off on close', async () => {
    const card = new EchoCard();
    const t = new InProcessTransport(card);
    assert.equal(card.powered, true);
    assert.deepEqual(t.atr, ECHO_ATR);
    await t.close();
    assert.equal(card.powered, false);
    await assert.rejects(t.transmit(SELECT_ECHO), { code: 'JUKI_ERR_READER' });
    await t.close(); // idempotent
  });

  test('can leave the card powered on close', async () => {
    const card = new EchoCard();
    const t = new InProcessTransport(card, { powerOffOnClose: false });
    await t.close();
    assert.equal(card.powered, true);
  });

  test('a card that throws becomes JUKI_ERR_READER', async () => {
    const card = Object.assign(new EchoCard(), {
      transmit(): Uint8Array {
        throw new Error('engine fault');
      },
    });
    await assert.rejects(new InProcessTransport(card).transmit(SELECT_ECHO), { code: 'JUKI_ERR_READER', message: /engine fault/ });
  });

  test('the caller cannot change the command after the card has it', async () => {
    let seen: Uint8Array | undefined;
    const card = Object.assign(new EchoCard(), {
      transmit(c: Uint8Array): Uint8Array {
        seen = c;
        return fromHex('9000');
      },
    });
    const command = Uint8Array.from(SELECT_ECHO);
    await new InProcessTransport(card).transmit(command);
    command.fill(0);
    assert.deepEqual(seen, SELECT_ECHO);
  });
});

describe('VirtualReader', () => {
  test('insert and remove emit events; an empty slot refuses to connect', async () => {
    const reader = new VirtualReader('counter 1');
    const card = new EchoCard();
    assert.equal(await reader.cardPresent(), false);
    await assert.rejects(reader.connect(), { code: 'JUKI_ERR_READER' });
    const inserted = once(reader, 'inserted');
    reader.insert(card);
    assert.equal((await inserted)[0], card);
    assert.equal(await reader.cardPresent(), true);
    assert.throws(() => reader.insert(new EchoCard()), { code: 'JUKI_ERR_CONFLICT' });
    const removed = once(reader, 'removed');
    assert.equal(reader.remove(), card);
    assert.equal((await removed)[0], card);
    assert.equal(reader.remove(), undefined);
  });

  test('pulling the card powers it off and kills its sessions, even if it goes back in', async () => {
    const reader = new VirtualReader('r');
    const card = new EchoCard();
    reader.insert(card);
    const t = await reader.connect();
    assert.equal(toHex(await t.transmit(SELECT_ECHO)), '9000');
    reader.remove();
    assert.equal(card.powered, false);
    await assert.rejects(t.transmit(SELECT_ECHO), { code: 'JUKI_ERR_READER', message: /removed/ });
    reader.insert(card);
    await assert.rejects(t.transmit(SELECT_ECHO), { code: 'JUKI_ERR_READER' });
    const fresh = await reader.connect();
    assert.equal(toHex(await fresh.transmit(SELECT_ECHO)), '9000');
    await t.close();
    assert.equal(card.powered, true, 'closing the dead session leaves the new one alone');
  });

  test('waitForCard resolves on insertion and times out on an empty slot', async () => {
    const reader = new VirtualReader('r');
    const waiting = reader.waitForCard(10_000);
    reader.insert(new EchoCard());
    await waiting;
    await reader.waitForCard(0);
    await assert.rejects(new VirtualReader('empty').waitForCard(1), { code: 'JUKI_ERR_READER' });
  });

  test('a terminal with more readers than pcscd has vpcd slots drives each card on its own', async () => {
    const readers = [0, 1, 2, 3, 4].map((i) => new VirtualReader(`slot ${i}`));
    readers.forEach((r) => r.insert(new EchoCard()));
    const sessions = await Promise.all(readers.map((r) => r.connect()));
    await Promise.all(sessions.map((s) => transmitChecked(s, SELECT_ECHO)));
    const answers = await Promise.all(sessions.map((s, i) => transmitChecked(s, echo(Uint8Array.of(i)))));
    assert.deepEqual(answers.map(toHex), ['00', '01', '02', '03', '04']);
  });
});

describe('EchoCard', () => {
  test('refuses what it does not know with ISO status words, not 9000 (OpenSC driver probes)', async () => {
    const t = new InProcessTransport(new EchoCard());
    const probe = async (hex: string) => toHex(await t.transmit(fromHex(hex)));
    assert.equal(await probe('00A4040007627601FF000000'), '6A82'); // MuscleApplet AID
    assert.equal(await probe('B03C0100'), '6E00');
    assert.equal(await probe('00A4040006A00000000101'), '6A82');
    assert.equal(await probe('00A4040000'), '6A82');
    assert.equal(await probe('80EE000001AA'), '6D00'); // ECHO before SELECT
    assert.equal(await probe('00B0000000'), '6D00');
    assert.equal(await probe('80EE00'), '6700');
    assert.equal(await probe('80EE000005AA'), '6700'); // Lc says 5, one byte follows
    assert.equal(await probe('00C0000000'), '6985'); // GET RESPONSE with nothing pending
  });

  test('selection is transient: a reset drops it', async () => {
    const card = new EchoCard();
    const t = new InProcessTransport(card);
    await transmitChecked(t, SELECT_ECHO);
    await transmitChecked(t, echo(Uint8Array.of(1)));
    card.reset();
    assert.equal(toHex(await t.transmit(echo(Uint8Array.of(1)))), '6D00');
  });

  test('a powered-off card answers no APDU', () => {
    assert.throws(() => new EchoCard().transmit(SELECT_ECHO), { code: 'JUKI_ERR_CARD_UNPOWERED' });
  });
});
