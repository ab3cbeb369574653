/**
 * An ordinance area (条例利用領域): one instance per installed municipal service (library,
 * seal registration, ...), each with its own security domain keys held by its provider.
 * It holds a user number (never the resident code, R6.3.2) and the service's own data,
 * protected by its own PIN, mutual authentication and access control (R6.3.1).
 *
 * Module AID D3 92 F0 00 4A 55 4B 49 10 00; instances take their own AIDs at INSTALL.
 */
import { channel, never, pinAndChannel } from '../access.ts';
import type { ApplicationType } from '../application.ts';
import { FileTable } from '../files.ts';
import { SW } from '../sw.ts';

export const ORDINANCE_MODULE = Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x4a, 0x55, 0x4b, 0x49, 0x10, 0x00);

export const ORDINANCE_FID = { pin: 0x0001, userNumber: 0x0002, serviceData: 0x0003 } as const;
export const ORDINANCE_PIN_REF = 1;

export const ORDINANCE_FILES = new FileTable([
  {
    kind: 'pin',
    fid: ORDINANCE_FID.pin,
    name: 'service PIN',
    policy: { ref: ORDINANCE_PIN_REF, minLength: 4, maxLength: 4, alphabet: 'digits', maxTries: 3, blockedSw: SW.AUTH_METHOD_BLOCKED },
    unblock: channel(), // the service provider, over its own channel: no other area's keys reach here (R6.2)
  },
  { kind: 'binary', fid: ORDINANCE_FID.userNumber, sfi: 2, name: 'user number', size: 20, read: pinAndChannel(ORDINANCE_PIN_REF), update: never },
  { kind: 'binary', fid: ORDINANCE_FID.serviceData, sfi: 3, name: 'service data', size: 256, read: channel(), update: pinAndChannel(ORDINANCE_PIN_REF, true) },
]);

export const ordinanceArea: ApplicationType = {
  name: 'ordinance',
  module: ORDINANCE_MODULE,
  singleton: false,
  files: ORDINANCE_FILES,
  acceptsIssuerChannel: false,
  pinsRequiredFirst: [ORDINANCE_PIN_REF],
  requiredFiles: [ORDINANCE_FID.userNumber],
  validateFile(fid, d) {
    if (fid === ORDINANCE_FID.userNumber) {
      // R6.3.2: a user number is never the resident code; refusing the resident code's shape (11 digits) makes that structural.
      const printable = d.length >= 1 && d.every((c) => c >= 0x20 && c <= 0x7e);
      const looksLikeResidentCode = d.length === 11 && d.every((c) => c >= 0x30 && c <= 0x39);
      return printable && !looksLikeResidentCode;
    }
    return true;
  },
};
