/**
 * vsmartcard vpcd wire format, both directions: `LL LL payload`, a 2-byte big-endian length
 * then that many bytes. A 1-byte payload from vpcd is a control message; anything longer
 * is a command APDU. Only GET ATR and APDUs are answered.
 */
import { JukiError } from '../util/index.ts';

/** Control byte `00`: power off. No reply. */
export const VPCD_CTRL_OFF = 0x00;
/** Control byte `01`: power on. No reply. */
export const VPCD_CTRL_ON = 0x01;
/** Control byte `02`: warm reset. No reply. */
export const VPCD_CTRL_RESET = 0x02;
/** Control byte `04`: GET ATR. Reply: the ATR as a frame. */
export const VPCD_CTRL_ATR = 0x04;

/** The largest payload a 16-bit length can carry. */
export const VPCD_MAX_PAYLOAD = 0xffff;

/** One frame: `len_hi len_lo payload`. Throws JUKI_ERR_INVALID_INPUT past 65535 bytes. */
export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length > VPCD_MAX_PAYLOAD) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `vpcd frame payload of ${payload.length} bytes exceeds ${VPCD_MAX_PAYLOAD}`, { field: 'payload' });
  }
  const out = Buffer.allocUnsafe(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

/**
 * Cuts a TCP byte stream into frame payloads. TCP may split a frame across reads or
 * coalesce several into one, so bytes are kept until `2 + length` are there.
 */
export class FrameDecoder {
  #buffered: Buffer = Buffer.alloc(0);

  /** Feed the bytes of one read; returns every payload now complete, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#buffered = this.#buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffered, chunk]);
    const frames: Uint8Array[] = [];
    let at = 0;
    while (this.#buffered.length - at >= 2) {
      const length = this.#buffered.readUInt16BE(at);
      if (this.#buffered.length - at - 2 < length) break;
      frames.push(new Uint8Array(this.#buffered.subarray(at + 2, at + 2 + length)));
      at += 2 + length;
    }
    this.#buffered = this.#buffered.subarray(at);
    return frames;
  }

  /** Bytes held for a frame not yet complete. */
  get pending(): number {
    return this.#buffered.length;
  }

  /** Forget a partial frame (after the connection drops). */
  reset(): void {
    this.#buffered = Buffer.alloc(0);
  }
}
