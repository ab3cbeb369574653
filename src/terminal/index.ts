/** The terminal agent: readers, the PIN pad, the APDU relay to the servers, and the local PIN steps. */
export { PinEntry, ScriptedPinPad, transmitPinCommand } from './pin-pad.ts';
export type { PinPad, PinRequest, PinPadResult, PinCharacters, Keystrokes } from './pin-pad.ts';
export {
  PIN_APPLICATIONS, setPinWithPad, verifyPinWithPad, operatorSignWithPad, pinStatus, selectApplication, swMeaning, swHex,
} from './local-steps.ts';
export type { PinApplication, PinApplicationName, PinSetOutcome, PinVerifyOutcome, PinStatus, OperatorSignOutcome, PadOutcome } from './local-steps.ts';
export { Terminal, relayTransport, carriesPin } from './agent.ts';
export type { TerminalAgentApi, TerminalOptions, ReaderInfo, RelayRecord } from './agent.ts';
export { serveTerminalHttps, HttpsTerminalClient } from './https.ts';
export type { TerminalHttpsOptions, TerminalHttpsServer, HttpsTerminalClientOptions, TerminalAction } from './https.ts';
