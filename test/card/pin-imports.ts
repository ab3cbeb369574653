export { BASIC_AID, ISD_AID, Card, CARD_MODULES } from '../../src/card/index.ts';
export type { SealedCardStore } from '../../src/card/index.ts';
export { encodeImage as encodeImageForTest } from '../../src/card/image.ts';
