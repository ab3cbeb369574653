/** Resident register: residents, resident codes, municipalities, names, identity records, moves, synthetic data. */
export { ResidentRegister } from './register.ts';
export { auditRegisterChanges, both } from './audited.ts';
export type {
  RegisterChange,
  RegisterChangeHook,
  RegisterOptions,
  RegisterEntry,
  RegisterManyOptions,
  HistoryEntry,
  SearchQuery,
} from './register.ts';
export {
  parseResidentCode,
  digitsOnlyValidator,
  modulus11HypothesisValidator,
  defaultResidentCodeValidator,
} from './resident-code.ts';
export type { ResidentCode, ResidentCodeValidator } from './resident-code.ts';
export { municipality, municipalities, parseMunicipalityCode, municipalityCheckDigit, parseMunicipalityList } from './municipality.ts';
export type { Municipality, MunicipalityCode } from './municipality.ts';
export {
  parseName,
  parseKanjiNamePart,
  parseKanaNamePart,
  fullName,
  substituteText,
  substituteName,
  isJisX0208,
  SUBSTITUTE_CHARACTER,
  MAX_NAME_LENGTH,
} from './names.ts';
export type { PersonName } from './names.ts';
export { parseDate, todayInJapan, EARLIEST_DATE } from './dates.ts';
export type { IsoDate, DateBounds } from './dates.ts';
export { parseResidentInput, parseAddress, parseSex, SEXES, CHANGE_REASONS, CHANGE_REASON_LABELS, MAX_ADDRESS_LENGTH } from './resident.ts';
export type { Resident, ResidentInput, ResidentData, ResidentStatus, Sex, ChangeReason, ResidentCheckContext } from './resident.ts';
export { identityRecordOf } from './identity-record.ts';
export type { IdentityRecord } from './identity-record.ts';
export { statusAfter } from './moves.ts';
export type { Move, MoveIn, MoveOut, MoveWithin, Death } from './moves.ts';
export { syntheticEntries, syntheticResidents, syntheticResidentCode, permuteTenDigits, Prng, MAX_SYNTHETIC_RESIDENTS, DEFAULT_AS_OF } from './synthetic.ts';
export type { SyntheticOptions } from './synthetic.ts';
