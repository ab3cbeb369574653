/** The chip: APDU engine, file system, PINs, secure channel, storage, applications. */
export type { CardDevice } from './device.ts';
