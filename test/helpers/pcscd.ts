/**
 * A private pcscd for one test file (or the PC/SC benchmark): its own vpcd ports and its
 * own client socket, so it collides neither with a system pcscd nor with another test file.
 *
 * - Ports: a reader.conf.d directory of our own (`pcscd -c DIR`) with one vpcd entry on a
 *   free port pair P, P+1 (vpcd's two slots). One entry only: two entries in one pcscd hang
 *   clients (docs/pcsc.md).
 * - Socket: pcscd's socket path is compiled in (/run/pcscd/pcscd.comm), so pcscd runs in a
 *   private mount namespace with a temp directory bound over /run/pcscd; clients reach it
 *   with PCSCLITE_CSOCK_NAME=<dir>/pcscd.comm.
 * - Never `--auto-exit`: it would close the vpcd ports 60 s after the last client left.
 * - Ready means: vpcd's port is in LISTEN state and the client socket exists, polled from
 *   /proc with a bounded deadline. (Connecting to the port to test it would insert a card.)
 * - Stopped by its PID (SIGTERM, then SIGKILL past a deadline), never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the interoperability tests need, by Debian package (.ci/run installs them). */
export const PCSC_APT_PACKAGES = 'pcscd vsmartcard-vpcd opensc pcsc-tools libpcsclite-dev';

const PCSCD = '/usr/sbin/pcscd';
const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
const FRIENDLY_NAME = 'Juki VPCD';
const READY_DEADLINE_MS = 15_000;
const STOP_DEADLINE_MS = 10_000;

export interface PcscdOptions {
  /** Log APDUs and debug lines (`-d -a`). Off by default: it slows pcscd down. */
  readonly debug?: boolean;
}

/** A running private pcscd. */
export interface Pcscd {
  readonly pid: number;
  /** vpcd's port for slot 0; slot 1 is `port + 1`. */
  readonly port: number;
  /** The client socket: the value for PCSCLITE_CSOCK_NAME. */
  readonly socketPath: string;
  /** PC/SC reader name for vpcd slot 0 or 1, e.g. `Juki VPCD 00 00`. */
  readerName(slot: 0 | 1): string;
  /** The environment for a PC/SC client child process (opensc-tool, pcsc_scan...). */
  readonly env: NodeJS.ProcessEnv;
  /** What pcscd has printed so far (for failure messages). */
  output(): string;
  /** Stop pcscd and start it again on the same ports and socket. */
  restart(): Promise<void>;
  /** Stop pcscd (SIGTERM, then SIGKILL) and remove its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Throw, naming the apt packages, when a tool the PC/SC tests need is not installed. */
export function requirePcscTools(): void {
  const missing: string[] = [];
  if (!existsSync(PCSCD)) missing.push(`${PCSCD} (package pcscd)`);
  if (!existsSync(VPCD_DRIVER)) missing.push(`${VPCD_DRIVER} (package vsmartcard-vpcd)`);
  if (!onPath('opensc-tool')) missing.push('opensc-tool (package opensc)');
  if (!onPath('unshare')) missing.push('unshare (package util-linux)');
  if (missing.length > 0) {
    throw new Error(
      `the PC/SC interoperability tests need ${missing.join(', ')}: ` +
        `apt-get install -y --no-install-recommends ${PCSC_APT_PACKAGES} (.ci/run installs them), then npm ci`,
    );
  }
}

/** Start a private pcscd with vpcd on a free port pair; resolves when both are ready. */
export async function startPcscd(options: PcscdOptions = {}): Promise<Pcscd> {
  requirePcscTools();
  const dir = mkdtempSync(join(tmpdir(), 'juki-pcscd-'));
  const confDir = join(dir, 'reader.conf.d');
  const runDir = join(dir, 'run');
  mkdirSync(confDir);
  mkdirSync(runDir);
  const port = await freePortPair();
  writeFileSync(
    join(confDir, 'vpcd'),
    `FRIENDLYNAME "${FRIENDLY_NAME}"\nDEVICENAME /dev/null:${port}\nLIBPATH ${VPCD_DRIVER}\nCHANNELID ${port}\n`,
  );
  const socketPath = join(runDir, 'pcscd.comm');
  const env = { ...process.env, PCSCLITE_CSOCK_NAME: socketPath };

  let child: ChildProcess | undefined;
  let out = '';
  let stopped = false;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const launch = async () => {
    const flags = ['--foreground', '-c', confDir, ...(options.debug ? ['--debug', '--apdu'] : [])];
    // mkdir: the mount point must exist; pcscd would make the same empty directory itself.
    const script = 'mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && shift && exec "$@"';
    const proc = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', runDir, PCSCD, ...flags], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-200_000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    let exited: string | undefined;
    proc.once('exit', (code, signal) => {
      exited = `pcscd exited (code ${code}, signal ${signal})`;
    });
    const deadline = Date.now() + READY_DEADLINE_MS;
    while (!(listening(port) && existsSync(socketPath))) {
      if (exited) throw new Error(`${exited} before it was ready; output:\n${out}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`pcscd not ready after ${READY_DEADLINE_MS} ms (vpcd port ${port}); output:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const halt = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_DEADLINE_MS);
    await gone;
    clearTimeout(timer);
  };

  await launch();
  return {
    get pid() {
      return child?.pid ?? -1;
    },
    port,
    socketPath,
    env,
    readerName: (slot) => `${FRIENDLY_NAME} 00 0${slot}`,
    output: () => out,
    async restart() {
      await halt();
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port P such that P and P+1 are both free on all interfaces (vpcd binds INADDR_ANY). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = await bindAndRelease(0);
    if (p < 65535 && (await bindAndRelease(p + 1).then(() => true, () => false)) && (await bindAndRelease(p).then(() => true, () => false))) return p;
  }
  throw new Error('no free port pair for vpcd');
}

function bindAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/** Whether a TCP port is in LISTEN state, read from /proc/net/tcp (state 0A). */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hex}`) && fields[3] === '0A') return true;
    }
  }
  return false;
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, tool)));
}

/** What an echo card process reports about itself. */
export interface CardStatus {
  readonly attached: boolean;
  /** APDUs the card has answered. */
  readonly commands: number;
}

/** An echo card attached to vpcd from a child process (test/reader/echo-card-process.ts). */
export interface CardProcess {
  readonly pid: number;
  /** Whether vpcd is polling the card, as last reported. */
  readonly attached: boolean;
  /** Events from the card's bridge: connected, attached, disconnected, retrying. */
  readonly events: EventEmitter;
  /** Resolves when vpcd polls the card (at once if it does now). */
  whenAttached(): Promise<void>;
  status(): Promise<CardStatus>;
  /** Pull the card out and wait for the process to end (SIGKILL past a deadline). Idempotent. */
  close(): Promise<void>;
}

const CARD_SCRIPT = fileURLToPath(new URL('../reader/echo-card-process.ts', import.meta.url));

/** Start an echo card in its own process, attaching to vpcd on `port`. */
export async function startEchoCardProcess(port: number): Promise<CardProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CARD_SCRIPT, String(port)], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-20_000);
  });
  const events = new EventEmitter();
  let attached = false;
  const statusWaiters: Array<(s: CardStatus) => void> = [];
  child.on('message', (m: { event?: string; reply?: string; info?: unknown; attached: boolean; commands: number }) => {
    attached = m.attached;
    if (m.event) events.emit(m.event, m.info);
    if (m.reply === 'status') statusWaiters.shift()?.({ attached: m.attached, commands: m.commands });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', (code, signal) => {
    process.off('exit', killOnExit);
    events.emit('exit', code, signal);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    get pid() {
      return child.pid ?? -1;
    },
    get attached() {
      return attached;
    },
    events,
    whenAttached() {
      if (attached) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const onExit = () => reject(new Error(`the card process exited before it attached:\n${stderr}`));
        events.once('exit', onExit);
        events.once('attached', () => {
          events.off('exit', onExit);
          resolve();
        });
      });
    },
    status() {
      return new Promise((resolve, reject) => {
        statusWaiters.push(resolve);
        child.send({ cmd: 'status' }, (e) => e && reject(e));
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ cmd: 'close' });
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
