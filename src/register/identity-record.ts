/**
 * The identity record (本人確認情報): what Juki-net holds and passes on about a resident:
 * name, birth date, sex, address, resident code, and the latest change (reason and date).
 * Name and address also come in their substitute form (代替文字, see names.ts) for receivers
 * that can show only JIS X 0208.
 */
import type { IsoDate } from './dates.ts';
import type { MunicipalityCode } from './municipality.ts';
import { substituteName, substituteText, type PersonName } from './names.ts';
import type { ResidentCode } from './resident-code.ts';
import type { ChangeReason, Resident, ResidentStatus, Sex } from './resident.ts';

export interface IdentityRecord {
  readonly residentCode: ResidentCode;
  /** The municipality that keeps this record. */
  readonly municipality: MunicipalityCode;
  readonly name: PersonName;
  readonly birthDate: IsoDate;
  readonly sex: Sex;
  readonly address: string;
  /** Whether the person lives there now; `moved-out` and `deceased` records are kept, not deleted. */
  readonly status: ResidentStatus;
  readonly change: { readonly reason: ChangeReason; readonly date: IsoDate };
  /** Name and address in the substitute form (代替文字). */
  readonly substitute: { readonly name: PersonName; readonly address: string };
}

/** The identity record of a resident. */
export function identityRecordOf(r: Resident): IdentityRecord {
  return {
    residentCode: r.residentCode,
    municipality: r.municipality,
    name: { family: r.name.family, given: r.name.given },
    birthDate: r.birthDate,
    sex: r.sex,
    address: r.address,
    status: r.status,
    change: { reason: r.change.reason, date: r.change.date },
    substitute: { name: substituteName(r.name), address: substituteText(r.address) },
  };
}
