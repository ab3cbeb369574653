/** `juki card info`: a card's public information, asked of the card itself. */
import { CARD_MODULES, ISD_AID, LIFECYCLE_CODE, type CardLifecycle } from '../../card/index.ts';
import { JukiError } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { hex, keystoreDir, keystoreHelp, keystoreOption, openCardFile, openKeyStore, splitResponse } from './card-common.ts';

const LIFECYCLES = new Map(Object.entries(LIFECYCLE_CODE).map(([k, v]) => [v, k as CardLifecycle]));

export const cardInfoCommand: Command = {
  path: ['card', 'info'],
  summary: 'Show a card\'s public information: serial, lifecycle, applications',
  usage: '--card FILE [--keystore DIR] [--json]',
  options: { card: { type: 'string' }, ...keystoreOption, ...jsonOption },
  help: `
Powers the card on and asks it, with APDUs anyone holding the card may send (R2.1: the
command does not read the image itself):
  GET DATA 0045 (serial), GET DATA 9F70 (lifecycle), GET DATA 00E0 (key versions),
  SELECT of each well-known application (basic area, operator card, JPKI area).
Ordinance areas have per-service AIDs and are listed only by GET STATUS over the issuing
municipality's secure channel, so they are not shown. Nothing secret is printed.

Options:
  --card FILE     the card image file
${keystoreHelp}
  --json          print one JSON object`,
  async run({ values, stdout }) {
    const file = values.card as string | undefined;
    if (file === undefined) throw new JukiError('JUKI_ERR_USAGE', "--card: required: the card image file (see 'juki card info --help')");
    const dir = keystoreDir(values);
    const keyStore = openKeyStore(dir);
    try {
      const { card } = openCardFile(file, keyStore);
      const send = (h: string) => splitResponse(card.transmit(new Uint8Array(Buffer.from(h, 'hex'))));
      try {
        send(`00A4040C08${hex(ISD_AID)}`);
        const serialR = send('80CA004500');
        const lcR = send('80CA9F7000');
        const keysR = send('80CA00E000');
        const serial = serialR.sw === '9000' ? serialR.data.slice(4) : null;
        const code = lcR.sw === '9000' ? parseInt(lcR.data.slice(-2), 16) : NaN;
        const lifecycle = LIFECYCLES.get(code) ?? (lcR.sw === '9000' ? `unknown (${lcR.data.slice(-2)})` : `unknown (SW ${lcR.sw})`);
        // E0 { C0 04 <key id> <kvn> 88 <length> ... }: key versions only, never key values
        const kvns = new Set<string>();
        if (keysR.sw === '9000') for (const m of keysR.data.matchAll(/C004(0[1-3])([0-9A-F]{2})88[0-9A-F]{2}/g)) kvns.add(m[2]!);
        const applications: { name: string; aid: string }[] = [];
        for (const t of CARD_MODULES) {
          if (!t.defaultAid) continue;
          const aid = hex(t.defaultAid);
          if (send(`00A4040C${hex(Uint8Array.of(t.defaultAid.length))}${aid}`).sw === '9000') applications.push({ name: t.name, aid });
        }
        const info = { card: file, serial, lifecycle, issuerKeyVersions: [...kvns], applications, keystore: dir };
        if (values.json) out(stdout, info);
        else {
          out(stdout, `serial       ${serial ?? '-'}`);
          out(stdout, `lifecycle    ${lifecycle}`);
          out(stdout, `issuer keys  ${[...kvns].map((k) => `KVN ${k}${k === 'FF' || parseInt(k, 16) >= 0x70 ? ' (transport)' : ''}`).join(', ') || '-'}`);
          out(stdout, `applications ${applications.map((a) => `${a.name} ${a.aid}`).join(', ') || 'none'}`);
        }
        return 0;
      } finally {
        card.powerOff();
      }
    } finally {
      keyStore.close();
    }
  },
};
