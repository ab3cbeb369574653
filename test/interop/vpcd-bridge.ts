/**
 * Reach a private pcscd's vpcd (in its own network namespace, test/helpers/pcscd.ts) from a
 * card that lives in this process: a relay process inside the namespace accepts on a Unix
 * socket path (paths cross network namespaces) and connects to vpcd; here, a loopback TCP
 * listener hands each connection to that path. `attachToVpcd(card, { port: bridge.port })`
 * then works unchanged, and vpcd still polls the card first (connect ≠ attached).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pcscd } from '../helpers/pcscd.ts';

const RELAY = `
const net = require('node:net');
const [path, port] = process.argv.slice(1);
const pipe = (a, b) => { a.setNoDelay?.(true); a.on('data', (d) => b.write(d)); a.on('close', () => b.destroy()); a.on('error', () => b.destroy()); };
net.createServer((c) => { const up = net.connect(Number(port), '127.0.0.1'); up.setNoDelay(true); pipe(c, up); pipe(up, c); })
  .listen(path, () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

export interface VpcdBridge {
  /** The loopback port to give attachToVpcd. */
  readonly port: number;
  close(): Promise<void>;
}

function join2(a: Socket, b: Socket): void {
  a.setNoDelay(true);
  a.on('data', (d) => b.write(d));
  a.on('close', () => b.destroy());
  a.on('error', () => b.destroy());
}

export async function bridgeToVpcd(pcscd: Pcscd, slot: 0 | 1 = 0): Promise<VpcdBridge> {
  const path = join(tmpdir(), `juki-vpcd-bridge-${process.pid}-${slot}.sock`);
  rmSync(path, { force: true });
  const relay = spawn('nsenter', [`--net=${pcscd.netns}`, '--', process.execPath, '-e', RELAY, path, String(pcscd.port + slot)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  relay.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const killOnExit = () => relay.kill('SIGKILL');
  process.once('exit', killOnExit);
  await new Promise<void>((resolve, reject) => {
    relay.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
    relay.once('exit', (code) => reject(new Error(`the vpcd relay exited (${code}): ${err}`)));
  });
  const server: Server = createServer((c) => {
    const u = createConnection(path);
    join2(c, u);
    join2(u, c);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    port,
    async close() {
      server.close();
      if (relay.exitCode === null && relay.signalCode === null) {
        const gone = once(relay, 'exit');
        relay.kill('SIGTERM');
        await gone;
      }
      process.off('exit', killOnExit);
      rmSync(path, { force: true });
    },
  };
}
