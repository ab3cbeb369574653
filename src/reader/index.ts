/** Transports to a card: in-process, vpcd (card side), PC/SC (host side), and a bare echo card. */
export type { CardTransport, CardReader } from './transport.ts';
export { send, transmitChecked, statusWord, responseData, withLe, getResponseCla } from './transport.ts';
export { InProcessTransport, VirtualReader } from './in-process.ts';
export type { InProcessOptions, VirtualReaderEvents } from './in-process.ts';
export { attachToVpcd, VpcdAttachment, VPCD_DEFAULT_PORT } from './vpcd.ts';
export type { VpcdOptions, VpcdEvents, VpcdCardEvent, VpcdLogger, VpcdLogLevel } from './vpcd.ts';
export { encodeFrame, FrameDecoder, VPCD_CTRL_OFF, VPCD_CTRL_ON, VPCD_CTRL_RESET, VPCD_CTRL_ATR, VPCD_MAX_PAYLOAD } from './vpcd-frame.ts';
export { openPcsc, PcscContext, PcscReader, PcscTransport, PCSC_BUILD_PACKAGES } from './pcsc.ts';
export type { PcscConnectOptions, PcscDisposition } from './pcsc.ts';
export {
  EchoCard,
  ECHO_AID,
  ECHO_ATR,
  ECHO_CLA,
  ECHO_INS,
  ECHO_PLAIN,
  ECHO_VIA_GET_RESPONSE,
  ECHO_EXACT_LE,
} from './echo-card.ts';
export { encodeApdu, dgi, parseTlvs, findTlv, swHex, cardRefused } from './host-apdu.ts';
export type { Tlv } from './host-apdu.ts';
export { SecureSession, FULL_SM } from './secure-session.ts';
