/**
 * `juki card vpcd`: put a card image into pcscd's "Virtual PCD" reader through vsmartcard's
 * vpcd driver (docs/pcsc.md), so opensc-tool, pkcs15-tool, pkcs11-tool and any PC/SC
 * application see it as a card in a reader. Reconnects while pcscd is away; stops on
 * SIGINT/SIGTERM. The card persists every change itself, through its sealed store, before it
 * answers (R2.2.5): killing this process never undoes a retry-counter decrement.
 */
import { attachToVpcd, VPCD_DEFAULT_PORT, type VpcdCardEvent } from '../../reader/index.ts';
import { JukiError, invalid } from '../../util/index.ts';
import { type Command, out } from '../command.ts';
import { parsePort } from '../runtime.ts';
import { keystoreDir, keystoreHelp, keystoreOption, openCardFile, openKeyStore } from './card-common.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

export const cardVpcdCommand: Command = {
  path: ['card', 'vpcd'],
  summary: 'Attach a card image to pcscd through vpcd (a card in a PC/SC reader) until stopped',
  usage: '--card FILE [--host HOST] [--port PORT] [--keystore DIR] [--trace]',
  options: {
    card: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    trace: { type: 'boolean', default: false },
    ...keystoreOption,
  },
  help: `
Connects the card to vpcd (Debian packages pcscd and vsmartcard-vpcd; pcscd must be running,
started by root: see docs/pcsc.md) and answers its APDUs until SIGINT or SIGTERM. Prints one
line each time vpcd takes the card into its reader; while vpcd is not listening (pcscd not
started yet, or restarted) it retries with backoff and says so on stderr. Every change the
card makes (PIN retry counters, keys, files) is sealed into FILE before the card answers.

Options:
  --card FILE   the card image (made by 'juki card new' or 'juki demo card')
  --host HOST   where vpcd listens (default 127.0.0.1)
  --port PORT   vpcd's slot port (default ${VPCD_DEFAULT_PORT}: reader "Virtual PCD 00 00";
                ${VPCD_DEFAULT_PORT + 1} is "Virtual PCD 00 01")
${keystoreHelp}
  --trace       log each APDU's header and status word on stderr (never its data)`,
  async run({ values, stdout, stderr }) {
    const file = values.card as string | undefined;
    if (file === undefined) throw new JukiError('JUKI_ERR_USAGE', "--card: required: the card image file (see 'juki card vpcd --help')");
    const host = values.host as string;
    if (host.trim() === '' || /\s/.test(host)) throw invalid('--host', `expected a host name or address, got ${JSON.stringify(host)}`);
    const port = parsePort(values.port as string | undefined, VPCD_DEFAULT_PORT);
    if (port === 0) throw invalid('--port', 'expected vpcd\'s port (1-65535), got 0');
    const keyStore = openKeyStore(keystoreDir(values));
    let opened: ReturnType<typeof openCardFile>;
    try {
      opened = openCardFile(file, keyStore);
    } catch (e) {
      keyStore.close();
      throw e;
    }
    const { card, cardId } = opened;
    const serial = cardId.toUpperCase();
    const trace = values.trace === true;
    let commands = 0;
    let waiting = false;
    let stopping = false;
    const onChange = (e: VpcdCardEvent) => {
      if (e.kind !== 'apdu') return;
      commands++;
      if (trace) out(stderr, `juki card vpcd: ${hex(e.command.subarray(0, 4))} → ${hex(e.response.subarray(e.response.length - 2))}`);
    };
    const bridge = attachToVpcd(card, {
      host,
      port,
      onChange,
      log: (level, message) => {
        if (level !== 'info') out(stderr, `juki card vpcd: ${message}`);
      },
    });
    bridge.on('attached', () => {
      waiting = false;
      out(stdout, `juki card vpcd: card ${serial} attached to vpcd at ${host}:${port} (${file}); Ctrl-C to remove it`);
    });
    bridge.on('disconnected', ({ attached, reason }) => {
      if (attached && !stopping) out(stderr, `juki card vpcd: vpcd ${host}:${port} let go of the card (${reason}); reconnecting`);
    });
    bridge.on('retrying', ({ reason }) => {
      // One line per outage, not one per attempt.
      if (!waiting) out(stderr, `juki card vpcd: vpcd not reachable at ${host}:${port} (${reason}); retrying until it is (is pcscd running?)`);
      waiting = true;
    });
    return new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        stopping = true;
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        bridge.close().then(
          () => {
            card.powerOff();
            keyStore.close();
            out(stderr, `juki card vpcd: ${signal}: card ${serial} removed after ${commands} APDU(s); its state is in ${file}`);
            resolve(0);
          },
          (e: unknown) => {
            out(stderr, `juki card vpcd: error while stopping: ${(e as Error).message}`);
            resolve(1);
          },
        );
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    });
  },
};
