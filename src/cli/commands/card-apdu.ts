/** `juki card apdu`: one card session, APDUs in order, the card persisting its own state. */
import { JukiError, isJukiError } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { hex, keystoreDir, keystoreHelp, keystoreOption, openCardFile, openKeyStore, splitResponse } from './card-common.ts';

/** Parse the APDU arguments before the card is touched; the error names the argument's position (1 = first APDU). */
export function parseApduArgs(args: readonly string[]): Uint8Array[] {
  return args.map((a, i) => {
    const s = a.replace(/[\s:]/g, '');
    if (!/^([0-9A-Fa-f]{2})+$/.test(s)) {
      const why = s.length === 0 ? 'it is empty' : s.length % 2 && /^[0-9A-Fa-f]+$/.test(s) ? `an odd number of hex digits (${s.length})` : `${JSON.stringify(a.length > 40 ? a.slice(0, 40) + '…' : a)}`;
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `APDU argument ${i + 1}: expected hex bytes (pairs of 0-9 A-F), got ${why}`, { field: `APDU ${i + 1}` });
    }
    return new Uint8Array(Buffer.from(s, 'hex'));
  });
}

export const cardApduCommand: Command = {
  path: ['card', 'apdu'],
  summary: 'Send APDUs to a card in one session and print the responses',
  usage: '--card FILE [--keystore DIR] [--json] HEX...',
  positionals: [1, 1000],
  options: { card: { type: 'string' }, ...keystoreOption, ...jsonOption },
  help: `
One card session: power on (the image is opened and checked), send each APDU in order,
power off. The card writes its own state to FILE as it changes (a retry counter, a PIN,
personalisation), so a wrong VERIFY counts even if the command is interrupted.

Prints one line per APDU: the response data as uppercase hex, two spaces, the status word
(just the status word when there is no data):
  $ juki card apdu --card card.img 00A4040C08A000000151000000 80CA004500
  9000
  450A4A4B000000070000002A  9000

Options:
  --card FILE     the card image file
${keystoreHelp}
  --json          print one JSON object: {"card", "responses": [{"command", "data", "sw"}]}

HEX is one command APDU (ISO 7816-4), spaces and colons allowed inside quotes. The card answers
malformed APDUs with a status word (6700, 6D00...), never an error.`,
  async run({ values, positionals, stdout }) {
    const file = values.card as string | undefined;
    if (file === undefined) throw new JukiError('JUKI_ERR_USAGE', "--card: required: the card image file (see 'juki card apdu --help')");
    const apdus = parseApduArgs(positionals);
    const dir = keystoreDir(values);
    const keyStore = openKeyStore(dir);
    try {
      const { card } = openCardFile(file, keyStore);
      const responses: { command: string; data: string; sw: string }[] = [];
      try {
        for (const [i, apdu] of apdus.entries()) {
          let r: Uint8Array;
          try {
            r = card.transmit(apdu);
          } catch (e) {
            // The card powered down after a storage fault (6581): it answers nothing more this session.
            if (isJukiError(e, 'JUKI_ERR_CARD_UNPOWERED')) throw new JukiError(e.code, `APDU ${i + 1}: the card lost power after a storage fault; the APDUs from ${i + 1} on were not sent`);
            throw e;
          }
          const { data, sw } = splitResponse(r);
          responses.push({ command: hex(apdu), data, sw });
          if (!values.json) out(stdout, data ? `${data}  ${sw}` : sw);
        }
      } finally {
        if (card.powered) card.powerOff();
      }
      if (values.json) out(stdout, { card: file, responses });
      return 0;
    } finally {
      keyStore.close();
    }
  },
};
