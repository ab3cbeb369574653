/**
 * An SCP03 session with the selected security domain of the card behind a transport. The host
 * side runs here, where the keys are; the transport may be a terminal's relay, which sees only
 * MACed and encrypted bytes and can neither read nor forge them (ARCHITECTURE.md, "The card").
 */
import { Scp03HostChannel, type Scp03KeyResolver, type Scp03StaticKeys, type SecurityLevel } from '../crypto/index.ts';
import { cardRefused, encodeApdu } from './host-apdu.ts';
import { responseData, send, statusWord, type CardTransport } from './transport.ts';

/** C-MAC + C-DECRYPTION + R-MAC + R-ENC (GP Amd D security level 33). */
export const FULL_SM: SecurityLevel = 0x33;

export class SecureSession {
  private constructor(
    private readonly transport: CardTransport,
    private readonly channel: Scp03HostChannel,
  ) {}

  /**
   * INITIALIZE UPDATE + EXTERNAL AUTHENTICATE on the selected domain.
   *   80 50 <kvn> 00 08 <host challenge> 00 → <IU answer> 90 00 | 6A 88 (no such KVN here)
   *   84 82 33 00 10 <host cryptogram> <C-MAC> → 90 00
   * `keys` may be a resolver from the serial the card announces. Throws JUKI_ERR_SCP_AUTHENTICATION
   * when the card does not hold the keys (the SW, e.g. 6A88, is in the message).
   */
  static async open(transport: CardTransport, keys: Scp03StaticKeys | Scp03KeyResolver, kvn: number, context?: Uint8Array, level: SecurityLevel = FULL_SM): Promise<SecureSession> {
    const channel = new Scp03HostChannel({ keys, level, ...(context ? { cardContext: context } : {}) });
    const iu = await send(transport, encodeApdu(channel.initializeUpdateCommand(kvn)));
    const ea = channel.onInitializeUpdateResponse(responseData(iu), statusWord(iu));
    const r = await send(transport, encodeApdu(ea));
    channel.onExternalAuthenticateResponse(statusWord(r));
    return new SecureSession(transport, channel);
  }

  /** The serial the card announced in INITIALIZE UPDATE (its diversification data). */
  get serial(): Uint8Array {
    return this.channel.card!.diversificationData.slice();
  }

  /** One command through the channel (CLA 80/00 → 84/04, C-MAC, encrypted data); plain answer data and SW. */
  async command(cla: number, ins: number, p1: number, p2: number, data: Uint8Array = new Uint8Array(0), le?: number): Promise<{ data: Uint8Array; sw: number }> {
    const wrapped = this.channel.wrapCommand(le === undefined ? { cla, ins, p1, p2, data } : { cla, ins, p1, p2, data, le });
    const r = await send(this.transport, encodeApdu(wrapped));
    const sw = statusWord(r);
    return { data: this.channel.unwrapResponse(responseData(r), sw), sw };
  }

  /** `command`, requiring 90 00. */
  async expect(step: string, cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): Promise<Uint8Array> {
    const r = await this.command(cla, ins, p1, p2, data, le);
    if (r.sw !== 0x9000) throw cardRefused(step, r.sw, Uint8Array.of(cla | 0x04, ins, p1, p2));
    return r.data;
  }

  close(): void {
    this.channel.close();
  }
}
