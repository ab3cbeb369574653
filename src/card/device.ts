/**
 * What a reader sees of a card: contacts and bytes. Every transport (in-process, network
 * relay, vpcd, PC/SC) drives a card through this and nothing else; no host code reaches
 * into card memory (R2.1).
 */
export interface CardDevice {
  /** Apply power: clears all transient state and returns the ATR. */
  powerOn(): Uint8Array;
  /** Remove power: clears all transient state. A powered-off card answers no APDU. */
  powerOff(): void;
  /** Warm reset: as powerOff + powerOn; returns the ATR. */
  reset(): Uint8Array;
  /** Whether the card is powered. */
  readonly powered: boolean;
  /** The answer-to-reset the card gives. */
  readonly atr: Uint8Array;
  /**
   * One command APDU in, one response APDU out (data ‖ SW1 SW2). Never throws for bad
   * bytes: malformed commands are answered with an ISO status word (6700, 6E00 ...).
   */
  transmit(command: Uint8Array): Uint8Array;
}
