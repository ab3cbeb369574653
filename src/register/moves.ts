/**
 * Moves (異動): move-in 転入, move-out 転出, move within the municipality 転居, and death 死亡.
 * Which move fits which current state, and the order of dates, are decided here; register.ts
 * applies them in a transaction and writes the history row.
 *
 *   (none) ──move-in──▶ registered ──move-out──▶ moved-out ──move-in (returns)──▶ registered
 *                        │  ▲ move-within
 *                        └──┘        registered ──death──▶ deceased (final)
 */
import { JukiError } from '../util/index.ts';
import type { ResidentInput, Resident, ResidentStatus } from './resident.ts';

/** A person moving in from another municipality (or from abroad, with no `from.municipality`). */
export interface MoveIn {
  readonly kind: 'move-in';
  readonly resident: ResidentInput;
  /** The day they moved in (異動年月日). */
  readonly date: string;
  readonly from?: { readonly municipality?: string; readonly address?: string };
}

/** A resident leaving for another municipality. */
export interface MoveOut {
  readonly kind: 'move-out';
  readonly residentCode: string;
  readonly date: string;
  readonly to: { readonly municipality: string; readonly address: string };
}

/** A resident moving to another address in the same municipality. */
export interface MoveWithin {
  readonly kind: 'move-within';
  readonly residentCode: string;
  readonly date: string;
  readonly address: string;
}

/** A resident's death. */
export interface Death {
  readonly kind: 'death';
  readonly residentCode: string;
  readonly date: string;
}

export type Move = MoveIn | MoveOut | MoveWithin | Death;

/** The status a move leaves the resident in. */
export function statusAfter(kind: Move['kind']): ResidentStatus {
  return kind === 'move-out' ? 'moved-out' : kind === 'death' ? 'deceased' : 'registered';
}

/**
 * Refuse a move that does not fit the resident's current state or dates:
 *   move-in of a registered resident        JUKI_ERR_RESIDENT_EXISTS
 *   move-out/within/death of one not here   JUKI_ERR_RESIDENT_NOT_REGISTERED
 *   a deceased person moving in             JUKI_ERR_INVALID_MOVE
 *   a date before birth or the latest change JUKI_ERR_INVALID_MOVE
 */
export function assertMoveFits(kind: Move['kind'], current: Resident | undefined, date: string, birthDate: string): void {
  const code = current?.residentCode;
  if (kind === 'move-in') {
    if (current?.status === 'registered') {
      throw new JukiError('JUKI_ERR_RESIDENT_EXISTS', `resident code: ${code} is already registered in ${current.municipality}`, { field: 'resident code' });
    }
    if (current?.status === 'deceased') {
      throw new JukiError('JUKI_ERR_INVALID_MOVE', `move-in: resident ${code} is recorded as deceased on ${current.change.date}`, { field: 'resident code' });
    }
  } else if (!current || current.status !== 'registered') {
    // The caller has already answered "no such resident" with JUKI_ERR_RESIDENT_NOT_FOUND.
    throw new JukiError(
      'JUKI_ERR_RESIDENT_NOT_REGISTERED',
      `${kind}: resident ${code} is not registered here (${current?.status} on ${current?.change.date})`,
      { field: 'resident code' },
    );
  }
  if (date < birthDate) {
    throw new JukiError('JUKI_ERR_INVALID_MOVE', `${kind} date: ${date} is before the birth date ${birthDate}`, { field: `${kind} date` });
  }
  if (current && date < current.change.date) {
    throw new JukiError(
      'JUKI_ERR_INVALID_MOVE',
      `${kind} date: ${date} is before the resident's latest change (${current.change.reason} on ${current.change.date})`,
      { field: `${kind} date` },
    );
  }
}
