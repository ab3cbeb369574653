/**
 * The ISO/IEC 7816-4 commands every application answers the same way, against its own file
 * table and record: SELECT EF, READ BINARY, UPDATE BINARY, VERIFY, CHANGE REFERENCE DATA,
 * RESET RETRY COUNTER. The access check (access.ts) happens here, once, before any data is
 * touched (R2.2.4).
 */
import { allows } from './access.ts';
import type { CommandApdu } from './apdu.ts';
import type { AppContext, Handler, Reply } from './application.ts';
import type { BinaryEfDef, EfDef, PinEfDef } from './files.ts';
import { pinFormatOk, pinStatusSw, setPin, unsetPin, verifyPin } from './pin.ts';
import { IsoError, SW, refuse } from './sw.ts';
import { concat, tlv } from './tlv.ts';

const OK: Reply = { sw: SW.OK };

/** The FCP template of an EF (ISO 7816-4 §5.3.3, table 12): 62 L { 80 size, 82 descriptor, 83 FID, 88 SFI }. */
export function fcp(def: EfDef, contentLength: number): Uint8Array {
  const parts = [
    tlv(0x80, Uint8Array.of(contentLength >> 8, contentLength & 0xff)),
    // file descriptor byte: 01 working EF transparent, 09 internal EF (PINs and keys: selectable, not readable)
    tlv(0x82, Uint8Array.of(def.kind === 'binary' ? 0x01 : 0x09)),
    tlv(0x83, Uint8Array.of(def.fid >> 8, def.fid & 0xff)),
  ];
  if (def.kind === 'binary' && def.sfi !== undefined) parts.push(tlv(0x88, Uint8Array.of(def.sfi << 3)));
  return tlv(0x62, concat(...parts));
}

/**
 * SELECT EF by file identifier inside the selected application (ISO 7816-4 §11.1.1).
 *   C: 00 A4 02 0C 02 <FID>   R: 90 00 | 6A 82
 *   C: 00 A4 00 04 02 <FID> 00  R: 62 .. (FCP) 90 00
 * Keeps the application's security state (reference/secure-channel.md §4.1).
 */
export const selectEf: Handler = (cmd, ctx) => {
  if (cmd.p1 !== 0x00 && cmd.p1 !== 0x02) refuse(SW.INCORRECT_P1P2); // by path / parent / DF name elsewhere: not supported
  if (cmd.p2 !== 0x0c && cmd.p2 !== 0x00 && cmd.p2 !== 0x04) refuse(SW.INCORRECT_P1P2);
  if (cmd.data.length === 0) refuse(SW.INCORRECT_P1P2);
  if (cmd.data.length !== 2) refuse(SW.WRONG_LENGTH);
  const def = ctx.type.files.fid((cmd.data[0]! << 8) | cmd.data[1]!);
  if (!def) refuse(SW.FILE_NOT_FOUND);
  ctx.state.currentEf = def;
  if (cmd.p2 === 0x0c) return OK;
  const len = def.kind === 'binary' ? (ctx.record.files[def.fid]?.length ?? 0) : 0;
  return { data: fcp(def, len), sw: SW.OK };
};

/** Resolve the EF of READ/UPDATE BINARY: P1 b8=1 → short EF id in b5-b1, offset P2; else current EF, offset P1 b7-b1 ‖ P2 (ISO 7816-4 §11.2.2). */
function binaryTarget(cmd: CommandApdu, ctx: AppContext): { def: BinaryEfDef; offset: number } {
  let def: EfDef | null;
  let offset: number;
  if (cmd.p1 & 0x80) {
    if (cmd.p1 & 0x60) refuse(SW.INCORRECT_P1P2);
    const sfi = cmd.p1 & 0x1f;
    if (sfi === 0) refuse(SW.INCORRECT_P1P2);
    def = ctx.type.files.sfi(sfi) ?? null;
    if (!def) refuse(SW.FILE_NOT_FOUND);
    ctx.state.currentEf = def; // §11.2.2: the EF addressed by short id becomes current
    offset = cmd.p2;
  } else {
    def = ctx.state.currentEf;
    if (!def) refuse(SW.NO_CURRENT_EF);
    offset = (cmd.p1 << 8) | cmd.p2;
  }
  if (def.kind !== 'binary') refuse(SW.INCOMPATIBLE_FILE); // PIN and key IEFs have no read path (R2.2.1i, R2.2.3)
  return { def, offset };
}

/**
 * READ BINARY (ISO 7816-4 §11.2.3).
 *   C: 00 B0 <offset> <Le>  or  00 B0 <80|SFI> <offset> <Le>
 *   R: <min(Ne, size − offset) bytes> 90 00 | 69 82 | 6A 82 | 69 86 | 69 81 | 6B 00 (offset ≥ size)
 */
export const readBinary: Handler = (cmd, ctx) => {
  if (cmd.data.length) refuse(SW.WRONG_LENGTH);
  const { def, offset } = binaryTarget(cmd, ctx);
  if (!allows(def.read, ctx.view, 'read')) refuse(SW.SECURITY_NOT_SATISFIED);
  if (cmd.ne === undefined) refuse(SW.WRONG_LENGTH);
  const content = ctx.record.files[def.fid];
  if (!content || offset >= content.length) refuse(SW.WRONG_P1P2);
  return { data: content.slice(offset, Math.min(content.length, offset + cmd.ne)), sw: SW.OK };
};

/**
 * UPDATE BINARY (ISO 7816-4 §11.2.5): write at offset, within the allocated size.
 *   C: 00 D6 <offset> Lc <data>   R: 90 00 | 69 82 | 6B 00 (offset past the content) | 6A 84 (past the size) | 6A 80 (format)
 */
export const updateBinary: Handler = (cmd, ctx) => {
  if (cmd.data.length === 0) refuse(SW.WRONG_LENGTH);
  const { def, offset } = binaryTarget(cmd, ctx);
  if (!allows(def.update, ctx.view, 'update')) refuse(SW.SECURITY_NOT_SATISFIED);
  const old = ctx.record.files[def.fid] ?? new Uint8Array(0);
  if (offset > old.length) refuse(SW.WRONG_P1P2);
  if (offset + cmd.data.length > def.size) refuse(SW.NOT_ENOUGH_MEMORY);
  const next = new Uint8Array(Math.max(old.length, offset + cmd.data.length));
  next.set(old);
  next.set(cmd.data, offset);
  if (ctx.type.validateFile && !ctx.type.validateFile(def.fid, next)) refuse(SW.INCORRECT_DATA);
  ctx.record.files[def.fid] = next;
  ctx.persist();
  return OK;
};

/** P2 of VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER: 80 = the current (PIN) EF, 80|ref = PIN ref (ISO 7816-4 §11.5.6; the JPKI AP's usage). */
function pinTarget(cmd: CommandApdu, ctx: AppContext): PinEfDef {
  if ((cmd.p2 & 0x80) === 0 || cmd.p2 & 0x60) refuse(SW.INCORRECT_P1P2);
  const ref = cmd.p2 & 0x1f;
  const cur = ctx.state.currentEf;
  const def = ref === 0 ? (cur?.kind === 'pin' ? cur : undefined) : ctx.type.files.pin(ref);
  if (!def) refuse(SW.REF_DATA_NOT_FOUND);
  return def;
}

function pinState(ctx: AppContext, def: PinEfDef) {
  let s = ctx.record.pins[def.policy.ref];
  if (!s) {
    s = unsetPin(def.policy);
    ctx.record.pins[def.policy.ref] = s;
  }
  return s;
}

/**
 * VERIFY (ISO 7816-4 §11.5.6). The comparison happens only here, inside the card (R2.2.1u).
 *   C: 00 20 00 81 04 31 32 33 34   R: 90 00 | 63 Cx | 69 83/69 84 (blocked) | 69 84 (not set)
 *   C: 00 20 00 81                  R: 63 Cx (tries left, even when verified: the JPKI AP's habit)
 *   C: 00 20 FF 81                  R: 90 00 (verification status reset, ISO 7816-4:2013)
 */
export const verify: Handler = (cmd, ctx) => {
  if (cmd.p1 !== 0x00 && cmd.p1 !== 0xff) refuse(SW.INCORRECT_P1P2);
  const def = pinTarget(cmd, ctx);
  const ref = def.policy.ref;
  if (cmd.p1 === 0xff) {
    if (cmd.data.length) refuse(SW.WRONG_LENGTH);
    ctx.state.verified.delete(ref);
    return OK;
  }
  const state = pinState(ctx, def);
  if (cmd.data.length === 0) return { sw: pinStatusSw(state) };
  ctx.state.verified.delete(ref);
  const r = verifyPin(state, def.policy, cmd.data, ctx.pinKey, ctx.record.aid, () => ctx.persistPin(ref));
  if (r.ok) ctx.state.verified.add(ref);
  return { sw: r.ok ? SW.OK : r.sw };
};

/**
 * CHANGE REFERENCE DATA (ISO 7816-4 §11.5.7).
 *   P1=01: C: 00 24 01 81 04 <new PIN>  allowed while the PIN is unset (the holder's first
 *          setting, R2.2.1a / R3.1.2ka) or after VERIFY in this selection.
 *   P1=00: C: 00 24 00 81 08 <old PIN> <new PIN>  fixed-length PINs only; the old PIN is
 *          checked like VERIFY (counter first).
 *   R: 90 00 | 63 Cx | 69 82 | 69 83/69 84 | 6A 80 (new PIN breaks the format rules)
 */
export const changeReferenceData: Handler = (cmd, ctx) => {
  if (cmd.p1 !== 0x00 && cmd.p1 !== 0x01) refuse(SW.INCORRECT_P1P2);
  const def = pinTarget(cmd, ctx);
  const { policy } = def;
  const state = pinState(ctx, def);
  let next: Uint8Array;
  if (cmd.p1 === 0x01) {
    next = cmd.data;
    const first = state.sealed === null;
    if (!first) {
      if (state.tries <= 0) refuse(policy.blockedSw);
      if (!ctx.state.verified.has(policy.ref)) refuse(SW.SECURITY_NOT_SATISFIED);
    }
    if (!pinFormatOk(policy, next)) refuse(SW.INCORRECT_DATA);
    setPin(state, policy, next, ctx.pinKey, ctx.record.aid);
    if (first && ctx.type.activatesCard) ctx.cardActivated();
    ctx.persist(); // the PIN and the card's lifecycle change land in one write
    return OK;
  }
  if (policy.minLength !== policy.maxLength) refuse(SW.INCORRECT_P1P2);
  if (cmd.data.length !== 2 * policy.minLength) refuse(SW.WRONG_LENGTH);
  if (state.sealed === null) refuse(SW.REF_DATA_NOT_USABLE);
  next = cmd.data.subarray(policy.minLength);
  if (!pinFormatOk(policy, next)) refuse(SW.INCORRECT_DATA);
  const r = verifyPin(state, policy, cmd.data.subarray(0, policy.minLength), ctx.pinKey, ctx.record.aid, () => ctx.persistPin(policy.ref));
  if (!r.ok) {
    ctx.state.verified.delete(policy.ref);
    return { sw: r.sw };
  }
  setPin(state, policy, next, ctx.pinKey, ctx.record.aid);
  ctx.persist();
  return OK;
};

/**
 * RESET RETRY COUNTER (ISO 7816-4 §11.5.10), P1=03 only: restores the counter and returns
 * the PIN to "unset", so the holder sets a new one on the PIN pad (R3.2.2i). No PIN or
 * resetting code ever travels through the channel (R3.1.2ki), so P1 00/01/02 are refused.
 *   C: 84 2C 03 81 08 <C-MAC 8>  (over the channel the PIN's `unblock` condition names)   R: 90 00 | 69 82
 */
export const resetRetryCounter: Handler = (cmd, ctx) => {
  if (cmd.p1 !== 0x03) refuse(SW.INCORRECT_P1P2);
  if (cmd.data.length) refuse(SW.WRONG_LENGTH);
  const def = pinTarget(cmd, ctx);
  if (!allows(def.unblock, ctx.view, 'update')) refuse(SW.SECURITY_NOT_SATISFIED);
  ctx.record.pins[def.policy.ref] = unsetPin(def.policy);
  ctx.state.verified.delete(def.policy.ref);
  ctx.persist();
  return OK;
};

/** The common command table, by INS. */
export const COMMON_COMMANDS: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [0xa4, selectEf],
  [0xb0, readBinary],
  [0xd6, updateBinary],
  [0x20, verify],
  [0x24, changeReferenceData],
  [0x2c, resetRetryCounter],
]);

export { IsoError };
