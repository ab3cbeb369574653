/**
 * An echo card attached to vpcd from its own process, as `juki card vpcd` runs: started by
 * startEchoCardProcess() (test/helpers/pcscd.ts) with the vpcd port as its argument.
 *
 * Why a separate process: the PC/SC binding's disconnect and release calls are synchronous,
 * and pcscd may be waiting on the card while they run. A card answering from the same thread
 * could never answer, and both would wait for ever.
 *
 * IPC out: { event, info?, attached, commands } for connected/attached/disconnected/retrying.
 * IPC in: { cmd: 'status' } → { reply: 'status', attached, commands }; { cmd: 'close' } → exits 0.
 */
import { attachToVpcd, EchoCard } from '../../src/reader/index.ts';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || !process.send) {
  process.stderr.write('usage: echo-card-process.ts PORT (with an IPC channel)\n');
  process.exit(2);
}
const send = (m: object) => process.send?.(m);

const card = new EchoCard();
const bridge = attachToVpcd(card, {
  port,
  minBackoffMs: 20,
  maxBackoffMs: 200,
  log: (level, message) => {
    if (level !== 'info') process.stderr.write(`${level}: ${message}\n`);
  },
});
for (const event of ['connected', 'attached', 'disconnected', 'retrying'] as const) {
  bridge.on(event, (info?: unknown) => send({ event, info, attached: bridge.attached, commands: card.commands }));
}

async function stop(code: number): Promise<never> {
  await bridge.close();
  process.exit(code);
}

process.on('message', (m: { cmd?: string }) => {
  if (m.cmd === 'status') send({ reply: 'status', attached: bridge.attached, commands: card.commands });
  else if (m.cmd === 'close') void stop(0);
});
// The test process went away: pull the card out rather than linger.
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
