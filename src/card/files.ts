/**
 * The file model of an application (ISO/IEC 7816-4 §5.3, §7): a DF (the application,
 * selected by AID) holding EFs addressed by 2-byte FID and, optionally, a 5-bit short EF
 * identifier. Three kinds of EF, after the JPKI AP's layout (reference/jpki-application.md
 * §2): transparent data EFs, PIN IEFs and key IEFs (internal: selectable, never readable).
 *
 * Definitions (FIDs, sizes, conditions) are code; only contents live in the card image.
 */
import type { AccessCondition } from './access.ts';
import type { PinPolicy } from './pin.ts';

export interface BinaryEfDef {
  readonly kind: 'binary';
  readonly fid: number;
  /** Short EF identifier (1..30), used by READ/UPDATE BINARY P1 = 1000 0sss (ISO 7816-4 §11.2.2). */
  readonly sfi?: number;
  readonly name: string;
  /** Allocated size in bytes; UPDATE BINARY never writes past it. */
  readonly size: number;
  readonly read: AccessCondition;
  readonly update: AccessCondition;
}

export interface PinEfDef {
  readonly kind: 'pin';
  readonly fid: number;
  readonly name: string;
  readonly policy: PinPolicy;
  /** Who may RESET RETRY COUNTER (unblock, leaving the PIN unset for the holder to set again). */
  readonly unblock: AccessCondition;
}

export interface KeyEfDef {
  readonly kind: 'key';
  readonly fid: number;
  /** Key reference used in P2 of INTERNAL AUTHENTICATE / PSO (P2 = 80 | ref). */
  readonly ref: number;
  readonly name: string;
  /** Who may use the key (never who may read it: keys have no read path, R2.2.3). */
  readonly use: AccessCondition;
}

export type EfDef = BinaryEfDef | PinEfDef | KeyEfDef;

/** An application's file table, indexed for the dispatcher's lookups. */
export class FileTable {
  private readonly byFid = new Map<number, EfDef>();
  private readonly bySfi = new Map<number, BinaryEfDef>();
  private readonly pins = new Map<number, PinEfDef>();
  private readonly keys = new Map<number, KeyEfDef>();

  constructor(readonly defs: readonly EfDef[]) {
    for (const d of defs) {
      if (this.byFid.has(d.fid)) throw new Error(`duplicate FID ${d.fid.toString(16)}`);
      this.byFid.set(d.fid, d);
      if (d.kind === 'binary' && d.sfi !== undefined) {
        if (d.sfi < 1 || d.sfi > 30 || this.bySfi.has(d.sfi)) throw new Error(`bad or duplicate SFI ${d.sfi}`);
        this.bySfi.set(d.sfi, d);
      }
      if (d.kind === 'pin') this.pins.set(d.policy.ref, d);
      if (d.kind === 'key') this.keys.set(d.ref, d);
    }
  }

  fid(fid: number): EfDef | undefined {
    return this.byFid.get(fid);
  }
  sfi(sfi: number): BinaryEfDef | undefined {
    return this.bySfi.get(sfi);
  }
  pin(ref: number): PinEfDef | undefined {
    return this.pins.get(ref);
  }
  key(ref: number): KeyEfDef | undefined {
    return this.keys.get(ref);
  }
  get binaries(): BinaryEfDef[] {
    return this.defs.filter((d): d is BinaryEfDef => d.kind === 'binary');
  }
  get pinDefs(): PinEfDef[] {
    return [...this.pins.values()];
  }
}

/** `0002` */
export function fidHex(fid: number): string {
  return fid.toString(16).toUpperCase().padStart(4, '0');
}
