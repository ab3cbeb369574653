/**
 * Applications (GP 2.3 §6, the card's areas): an ApplicationType is the code (executable
 * module), an AppRecord in the image is one installed instance. A handler sees only its own
 * instance's record and the selection's security state: no path exists from one
 * application's code to another's files, PINs or keys (R2.2.6, R5.1, R6.2).
 */
import type { AccessCondition, SecurityView } from './access.ts';
import type { CommandApdu } from './apdu.ts';
import type { EfDef, FileTable } from './files.ts';
import type { AppRecord, CardLifecycle } from './image.ts';
import type { ChannelState } from './security-domain.ts';
import type { Dgi } from './tlv.ts';

/** A handler's answer: data (only with success or warning) and a status word. */
export interface Reply {
  readonly data?: Uint8Array;
  readonly sw: number;
}

/** The transient state of the selected application (cleared on SELECT of an application, power off/on, reset). */
export interface SelectionState extends ChannelState {
  /** PIN references verified since selection. */
  verified: Set<number>;
  /** The current EF (ISO 7816-4 §7.1.1), kept across EF selections within the application. */
  currentEf: EfDef | null;
}

/** What a command handler gets: its own instance and nothing else of the card. */
export interface AppContext {
  readonly record: AppRecord;
  readonly type: ApplicationType;
  readonly serial: Uint8Array;
  readonly state: SelectionState;
  /** The security view of this command (how it arrived, what is verified, whose channel). */
  readonly view: SecurityView;
  readonly cardLifecycle: CardLifecycle;
  /** The per-card secret PINs are sealed under. */
  readonly pinKey: Uint8Array;
  /** Make every change to the record durable now, all or nothing (one atomic write). */
  persist(): void;
  /**
   * Make this PIN's retry counter (`record.pins[ref].tries`) durable now, when it is the only
   * change since the last persist: VERIFY's decrement before the comparison and its restore
   * after a match (R2.2.1e). One atomic write of the counter alone where the store keeps
   * counters apart from the image (SealedCardStore), else the same as persist().
   */
  persistPin(ref: number): void;
  random(n: number): Uint8Array;
  /** For a type with `activatesCard`: the holder has set the PIN, the card becomes active (R2.2.1a). */
  cardActivated(): void;
}

export type Handler = (cmd: CommandApdu, ctx: AppContext) => Reply;

/** Personalisation input beside the DGIs: the card facts a type may need. */
export interface PersoContext {
  readonly serial: Uint8Array;
  random(n: number): Uint8Array;
}

export interface ApplicationType {
  /** Short name for traces and docs: `basic`, `operator`, `ordinance`, `jpki`. */
  readonly name: string;
  /** Executable-module AID, named by INSTALL (GP 2.3 §11.5.2.3). */
  readonly module: Uint8Array;
  /** The instance AID when INSTALL gives none, and for singletons the only one allowed. */
  readonly defaultAid?: Uint8Array;
  /** At most one instance per card. */
  readonly singleton: boolean;
  readonly files: FileTable;
  /** Whether a channel opened with the issuer domain's keys is accepted while this application is selected (PIN services, R3.2.2). */
  readonly acceptsIssuerChannel: boolean;
  /**
   * The KVN of the initial key set the maker puts on the card for this module (the JPKI area:
   * 4F). INSTALL binds the new instance's security domain to that set (and refuses, 69 85,
   * when the card was made without one); the ISD's personalisation then carries no key set
   * for it (DGI 8F01 refused), and only the domain's own PUT KEY replaces it.
   */
  readonly initialKeyKvn?: number;
  /** Setting this application's PIN the first time makes the card active (the basic area, R2.2.1a). */
  readonly activatesCard?: boolean;
  /** PIN refs that must be set before anything but setting them is allowed (R2.2.1a). */
  readonly pinsRequiredFirst: readonly number[];
  /**
   * Personalisation (STORE DATA, last block): the DGIs other than the engine's own (key sets,
   * files). Pure: returns what to add (e.g. a key pair generated on the card, its public-key
   * file) and the engine applies it with the rest in one write; throw IsoError to refuse.
   */
  personalise?(dgis: readonly Dgi[], ctx: PersoContext): { files?: Record<number, Uint8Array>; keys?: Record<number, Uint8Array> };
  /** Files (FIDs) that personalisation must provide. */
  readonly requiredFiles: readonly number[];
  /** Check a file's content at personalisation or update (format rules, e.g. 11 digits). */
  validateFile?(fid: number, data: Uint8Array): boolean;
  /** Commands beyond the common ISO set, by INS (e.g. INTERNAL AUTHENTICATE, the JPKI `80 2A`). */
  readonly commands?: ReadonlyMap<number, Handler>;
  /** Conditions for the type's own commands, listed for docs and the access matrix. */
  readonly commandConditions?: Readonly<Record<string, AccessCondition>>;
}

/** A fresh transient selection state. */
export function freshSelection(): SelectionState {
  return { verified: new Set(), currentEf: null, channel: null, owner: 'none', keyset: null };
}
