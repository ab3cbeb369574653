/**
 * ISO/IEC 7816-4 §5.1 command and response APDUs: the four cases, short and extended
 * length. Parsed once at the card's edge; handlers see typed fields, never raw bytes.
 */
import { toHex } from '../util/index.ts';
import { IsoError, SW, describeSw } from './sw.ts';

export interface CommandFields {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data?: Uint8Array;
  /** Ne, the number of bytes expected (1..65536); absent for cases 1 and 3. */
  readonly ne?: number;
}

const EMPTY = new Uint8Array(0);

/** A command APDU (C-APDU). Build from bytes with `parse`, from fields with `of`. */
export class CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  /** Ne (1..65536), or undefined when the command carries no Le field. */
  readonly ne: number | undefined;
  /** Whether the command was (or will be) coded with extended length fields. */
  readonly extended: boolean;

  private constructor(f: CommandFields, extended: boolean) {
    this.cla = f.cla & 0xff;
    this.ins = f.ins & 0xff;
    this.p1 = f.p1 & 0xff;
    this.p2 = f.p2 & 0xff;
    this.data = f.data ?? EMPTY;
    this.ne = f.ne;
    this.extended = extended;
  }

  /** From fields; extended length is chosen when Lc > 255 or Ne > 256. */
  static of(f: CommandFields): CommandApdu {
    const lc = f.data?.length ?? 0;
    if (lc > 65535) throw new RangeError(`command data expected at most 65535 bytes, got ${lc}`);
    if (f.ne !== undefined && (f.ne < 1 || f.ne > 65536 || !Number.isInteger(f.ne))) throw new RangeError(`Ne expected 1..65536, got ${f.ne}`);
    return new CommandApdu(f, lc > 255 || (f.ne ?? 0) > 256);
  }

  /**
   * Parse a C-APDU (ISO 7816-4 §5.1, figure 3 and table 2). Throws IsoError(6700) when
   * the length fields do not match the byte count.
   *   case 1:  CLA INS P1 P2
   *   case 2S: ... Le            case 2E: ... 00 Le1 Le2
   *   case 3S: ... Lc data       case 3E: ... 00 Lc1 Lc2 data
   *   case 4S: ... Lc data Le    case 4E: ... 00 Lc1 Lc2 data Le1 Le2
   */
  static parse(b: Uint8Array): CommandApdu {
    const n = b.length;
    if (n < 4) throw new IsoError(SW.WRONG_LENGTH);
    const cla = b[0]!;
    const ins = b[1]!;
    const p1 = b[2]!;
    const p2 = b[3]!;
    if (n === 4) return new CommandApdu({ cla, ins, p1, p2 }, false);
    const b4 = b[4]!;
    if (n === 5) return new CommandApdu({ cla, ins, p1, p2, ne: b4 || 256 }, false);
    if (b4 !== 0) {
      // short Lc (§5.1: 1..255)
      if (n === 5 + b4) return new CommandApdu({ cla, ins, p1, p2, data: b.subarray(5, 5 + b4) }, false);
      if (n === 6 + b4) return new CommandApdu({ cla, ins, p1, p2, data: b.subarray(5, 5 + b4), ne: b[5 + b4]! || 256 }, false);
      throw new IsoError(SW.WRONG_LENGTH);
    }
    // b4 = 00 with more bytes: extended length (§5.1, "00" then two bytes)
    if (n < 7) throw new IsoError(SW.WRONG_LENGTH);
    const x = (b[5]! << 8) | b[6]!;
    if (n === 7) return new CommandApdu({ cla, ins, p1, p2, ne: x || 65536 }, true);
    if (x === 0) throw new IsoError(SW.WRONG_LENGTH);
    if (n === 7 + x) return new CommandApdu({ cla, ins, p1, p2, data: b.subarray(7, 7 + x) }, true);
    if (n === 9 + x) {
      const le = (b[7 + x]! << 8) | b[8 + x]!;
      return new CommandApdu({ cla, ins, p1, p2, data: b.subarray(7, 7 + x), ne: le || 65536 }, true);
    }
    throw new IsoError(SW.WRONG_LENGTH);
  }

  /** The ISO case: 1 (no data, no Le), 2 (Le), 3 (data), 4 (data and Le). */
  get case(): 1 | 2 | 3 | 4 {
    return this.data.length === 0 ? (this.ne === undefined ? 1 : 2) : this.ne === undefined ? 3 : 4;
  }

  /** The same command with other fields replaced (keeps extended-ness only if still needed). */
  with(f: Partial<CommandFields>): CommandApdu {
    return CommandApdu.of({ cla: this.cla, ins: this.ins, p1: this.p1, p2: this.p2, data: this.data, ne: this.ne, ...f });
  }

  /** Encode; short unless Lc > 255 or Ne > 256 (or the command was parsed extended). */
  encode(): Uint8Array {
    const lc = this.data.length;
    const ne = this.ne;
    const ext = this.extended || lc > 255 || (ne ?? 0) > 256;
    const lcBytes = lc ? (ext ? 3 : 1) : 0;
    const leBytes = ne === undefined ? 0 : ext ? (lc ? 2 : 3) : 1;
    const out = new Uint8Array(4 + lcBytes + lc + leBytes);
    out[0] = this.cla;
    out[1] = this.ins;
    out[2] = this.p1;
    out[3] = this.p2;
    let o = 4;
    if (lc) {
      if (ext) {
        out[o++] = 0;
        out[o++] = lc >> 8;
      }
      out[o++] = lc & 0xff;
      out.set(this.data, o);
      o += lc;
    }
    if (ne !== undefined) {
      if (ext) {
        if (!lc) out[o++] = 0;
        out[o++] = (ne >> 8) & 0xff;
      }
      out[o] = ne & 0xff;
    }
    return out;
  }

  /** `00 A4 04 0C [Lc=10] D392F000... [Ne=256]`: what an engineer wants in a trace. */
  toString(): string {
    const h = (x: number) => x.toString(16).toUpperCase().padStart(2, '0');
    let s = `${h(this.cla)} ${h(this.ins)} ${h(this.p1)} ${h(this.p2)}`;
    if (this.data.length) s += ` [Lc=${this.data.length}] ${toHex(this.data)}`;
    if (this.ne !== undefined) s += ` [Ne=${this.ne}]`;
    return this.extended ? `${s} (extended)` : s;
  }
}

/** A response APDU (R-APDU): data ‖ SW1 SW2. */
export class ResponseApdu {
  constructor(
    readonly data: Uint8Array,
    readonly sw: number,
  ) {}

  /** Split raw bytes (at least SW1 SW2) into data and status word. */
  static parse(b: Uint8Array): ResponseApdu {
    if (b.length < 2) throw new RangeError(`response APDU expected at least 2 bytes, got ${b.length}`);
    return new ResponseApdu(b.subarray(0, b.length - 2), (b[b.length - 2]! << 8) | b[b.length - 1]!);
  }

  /** Just a status word. */
  static sw(sw: number): ResponseApdu {
    return new ResponseApdu(EMPTY, sw);
  }

  get sw1(): number {
    return this.sw >> 8;
  }
  get sw2(): number {
    return this.sw & 0xff;
  }
  get ok(): boolean {
    return this.sw === SW.OK;
  }

  encode(): Uint8Array {
    const out = new Uint8Array(this.data.length + 2);
    out.set(this.data);
    out[this.data.length] = this.sw >> 8;
    out[this.data.length + 1] = this.sw & 0xff;
    return out;
  }

  /** `[32 bytes] 0102... 9000 ok` */
  toString(): string {
    const sw = this.sw.toString(16).toUpperCase().padStart(4, '0');
    return this.data.length ? `[${this.data.length} bytes] ${toHex(this.data)} ${sw} ${describeSw(this.sw)}` : `${sw} ${describeSw(this.sw)}`;
  }
}
