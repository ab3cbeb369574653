export { ATR, BASIC_AID, ISD_AID, Card, CARD_MODULES, MemoryCardStore, ResponseApdu } from '../../src/card/index.ts';
/** The JPKI AP's AID: not installed on these test cards, so probing it must answer 6A82. */
export const JPKI_PROBE = 'D392F000260100000001';
