/**
 * A real nats-server with JetStream and mutual TLS for one test file: a free port found by
 * binding first (nats-server takes no port 0), a temporary store folder, readiness by polling
 * the port, stopped by PID. A missing binary fails the test, naming the Debian package.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.ts';

export interface NatsServer {
  readonly url: string;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** The files and port a custom configuration is written for. */
export interface NatsServerFiles {
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly storeDir: string;
}

/**
 * Start nats-server -js with TLS (server cert + network CA, client certificates required);
 * `config` writes another configuration for the same files (e.g. juki's verify_and_map one).
 */
export async function startNatsServer(tls: { certPem: string; keyPem: string; caPem: string }, config?: (files: NatsServerFiles) => string, options: { port?: number } = {}): Promise<NatsServer> {
  const probe = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new Error(`nats-server is not installed (${probe.error.message}): install the Debian package: apt-get install nats-server`);
  const dir = mkdtempSync(join(tmpdir(), 'juki-nats-'));
  const port = options.port ?? (await freePort());
  writeFileSync(join(dir, 'server.crt'), tls.certPem);
  writeFileSync(join(dir, 'server.key'), tls.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), tls.caPem);
  const files = { port, certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: join(dir, 'ca.crt'), storeDir: join(dir, 'js') };
  writeFileSync(join(dir, 'nats.conf'), config ? config(files) : [
    'host: 127.0.0.1',
    `port: ${port}`,
    `jetstream { store_dir: "${join(dir, 'js')}" }`,
    `tls { cert_file: "${join(dir, 'server.crt')}", key_file: "${join(dir, 'server.key')}", ca_file: "${join(dir, 'ca.crt')}", verify: true, timeout: 5 }`,
  ].join('\n'));
  const child = spawn('nats-server', ['-c', join(dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let exited = false;
  child.once('exit', () => (exited = true));
  for (let i = 0; !(await canConnect(port)); i++) {
    if (exited || i > 200) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nats-server did not start on port ${port}: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 25)); // polling the port, as nats-server has no readiness signal on stdout we can rely on
  }
  return {
    url: `tls://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (exited) return done();
        child.once('exit', done);
        process.kill(child.pid!, 'SIGTERM');
      }),
  };
}
