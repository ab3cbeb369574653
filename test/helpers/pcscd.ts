/**
 * A private pcscd for one test file (or the PC/SC benchmark), with its own network and its
 * own client socket, so it collides neither with a system pcscd nor with another test file.
 *
 * - Network: a private network namespace, held by a `sleep` process so it outlives pcscd
 *   restarts. vpcd listens there on its default ports (35963, 35964), which nobody outside
 *   can reach (vpcd binds every interface: on the host anyone could insert a card). Cards
 *   join the namespace with nsenter.
 * - Delayed ACKs: Debian 12's vpcd (vsmartcard 0.8) sends a frame's length and its payload
 *   in two writes with Nagle on, so each APDU waits ~40 ms for the card's delayed ACK of the
 *   length. The namespace's loopback route gets `quickack 1` (unless `quickAck: false`), as
 *   docs/pcsc.md suggests for hosts; upstream fixed vpcd in 2023 (one write per frame).
 * - Config: a reader.conf.d directory of our own (`pcscd -c DIR`) with one vpcd entry. One
 *   entry only: two entries in one pcscd hang clients (docs/pcsc.md).
 * - Socket: pcscd's socket path is compiled in (/run/pcscd/pcscd.comm), so pcscd runs in a
 *   private mount namespace with a temp directory bound over /run/pcscd; clients reach it
 *   with PCSCLITE_CSOCK_NAME=<dir>/pcscd.comm (a path socket works across network namespaces).
 *   One private pcscd at a time per process, always on the same path: libpcsclite reads the
 *   variable once, at the process's first context.
 * - Never `--auto-exit`: it would close the vpcd ports 60 s after the last client left.
 * - Ready means: vpcd's port is in LISTEN state in the namespace and the client socket
 *   exists, polled from /proc with a bounded deadline (connecting would insert a card).
 * - Stopped by PID (SIGTERM, then SIGKILL past a deadline), never by name.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { EventEmitter, once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the interoperability tests need, by Debian package (.ci/run installs them). */
export const PCSC_APT_PACKAGES = 'pcscd vsmartcard-vpcd opensc pcsc-tools libpcsclite-dev iproute2';

const PCSCD = '/usr/sbin/pcscd';
const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
const FRIENDLY_NAME = 'Juki VPCD';
/** vpcd's default slot-0 port; free in a namespace of our own. */
const VPCD_PORT = 35963;
const READY_DEADLINE_MS = 15_000;
const STOP_DEADLINE_MS = 10_000;

export interface PcscdOptions {
  /** Log APDUs and debug lines (`-d -a`). Off by default: it slows pcscd down. */
  readonly debug?: boolean;
  /** ACK at once on the namespace's loopback (see above). Default true. */
  readonly quickAck?: boolean;
}

/** A running private pcscd. */
export interface Pcscd {
  readonly pid: number;
  /** vpcd's port for slot 0 inside the namespace; slot 1 is `port + 1`. */
  readonly port: number;
  /** The network namespace vpcd listens in: `/proc/<pid>/ns/net` of its holder. */
  readonly netns: string;
  /** The client socket: the value for PCSCLITE_CSOCK_NAME. */
  readonly socketPath: string;
  /** PC/SC reader name for vpcd slot 0 or 1, e.g. `Juki VPCD 00 00`. */
  readerName(slot: 0 | 1): string;
  /** The environment for a PC/SC client child process (opensc-tool, pcsc_scan...). */
  readonly env: NodeJS.ProcessEnv;
  /** What pcscd has printed so far (for failure messages). */
  output(): string;
  /** Stop pcscd and start it again, in the same namespace with the same socket. */
  restart(): Promise<void>;
  /** Stop pcscd and the namespace holder, and remove the temp directory. Idempotent. */
  stop(): Promise<void>;
}

/** Throw, naming the apt packages, when a tool the PC/SC tests need is not installed. */
export function requirePcscTools(): void {
  const missing: string[] = [];
  if (!existsSync(PCSCD)) missing.push(`${PCSCD} (package pcscd)`);
  if (!existsSync(VPCD_DRIVER)) missing.push(`${VPCD_DRIVER} (package vsmartcard-vpcd)`);
  if (!onPath('opensc-tool')) missing.push('opensc-tool (package opensc)');
  for (const tool of ['unshare', 'nsenter']) if (!onPath(tool)) missing.push(`${tool} (package util-linux)`);
  if (!onPath('ip')) missing.push('ip (package iproute2)');
  if (missing.length > 0) {
    throw new Error(
      `the PC/SC interoperability tests need ${missing.join(', ')}: ` +
        `apt-get install -y --no-install-recommends ${PCSC_APT_PACKAGES} (.ci/run installs them), then npm ci`,
    );
  }
}

let dirForProcess: string | undefined;
let running = false;

/** Start a private pcscd with vpcd in its own network namespace; resolves when both are ready. */
export async function startPcscd(options: PcscdOptions = {}): Promise<Pcscd> {
  requirePcscTools();
  if (running) throw new Error('a private pcscd is already running in this process (libpcsclite talks to one socket per process)');
  running = true;
  // The same directory for every pcscd this process starts: libpcsclite fixes the socket
  // path at the process's first context, so a later pcscd must answer on the same path.
  dirForProcess ??= join(tmpdir(), `juki-pcscd-${process.pid}-${Date.now().toString(36)}`);
  const dir = dirForProcess;
  mkdirSync(dir, { recursive: true });
  const confDir = join(dir, 'reader.conf.d');
  const runDir = join(dir, 'run');
  mkdirSync(confDir);
  mkdirSync(runDir);
  const port = VPCD_PORT;
  writeFileSync(
    join(confDir, 'vpcd'),
    `FRIENDLYNAME "${FRIENDLY_NAME}"\nDEVICENAME /dev/null:${port}\nLIBPATH ${VPCD_DRIVER}\nCHANNELID ${port}\n`,
  );
  const socketPath = join(runDir, 'pcscd.comm');
  const env = { ...process.env, PCSCLITE_CSOCK_NAME: socketPath };

  const children = new Set<ChildProcess>();
  const killAll = () => children.forEach((c) => c.kill('SIGKILL'));
  process.once('exit', killAll);

  const holder = await startNetnsHolder(options.quickAck ?? true);
  children.add(holder);
  const netns = `/proc/${holder.pid}/ns/net`;

  let child: ChildProcess | undefined;
  let out = '';
  let stopped = false;

  const launch = async () => {
    const flags = ['--foreground', '-c', confDir, ...(options.debug ? ['--debug', '--apdu'] : [])];
    // mkdir: the mount point must exist; pcscd would make the same empty directory itself.
    const script = 'mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && shift && exec "$@"';
    const proc = spawn(
      'nsenter',
      [`--net=${netns}`, '--', 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', runDir, PCSCD, ...flags],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    children.add(proc);
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-200_000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    let exited: string | undefined;
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      exited = `pcscd exited (code ${code}, signal ${signal})`;
    });
    const deadline = Date.now() + READY_DEADLINE_MS;
    while (!(listening(holder.pid!, port) && existsSync(socketPath))) {
      if (exited) throw new Error(`${exited} before it was ready; output:\n${out}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`pcscd not ready after ${READY_DEADLINE_MS} ms (vpcd port ${port}); output:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const halt = async (proc: ChildProcess | undefined) => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_DEADLINE_MS);
    await gone;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (e) {
    await halt(holder);
    process.off('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
    running = false;
    throw e;
  }
  return {
    get pid() {
      return child?.pid ?? -1;
    },
    port,
    netns,
    socketPath,
    env,
    readerName: (slot) => `${FRIENDLY_NAME} 00 0${slot}`,
    output: () => out,
    async restart() {
      await halt(child);
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt(child);
      await halt(holder);
      process.off('exit', killAll);
      rmSync(dir, { recursive: true, force: true });
      running = false;
    },
  };
}

/**
 * A process that holds a new network namespace open: loopback up (with `quickack 1` on its
 * 127.0.0.1 route when asked), then `sleep` until killed. Resolves once the namespace is set up.
 */
async function startNetnsHolder(quickAck: boolean): Promise<ChildProcess> {
  const route = 'ip route change local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1';
  const script = `ip link set lo up && ${quickAck ? route + ' && ' : ''}echo ready && exec sleep 2147483647`;
  const proc = spawn('unshare', ['--net', '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`could not make a network namespace for pcscd (exit ${code}; needs root): ${out}`)));
  });
  return proc;
}

/** Whether a TCP port is in LISTEN state in `pid`'s network namespace (/proc/PID/net/tcp, state 0A). */
function listening(pid: number, port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
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
  /** Events from the card's bridge: connected, attached, disconnected, retrying; and exit. */
  readonly events: EventEmitter;
  /** Resolves when vpcd polls the card (at once if it does now). */
  whenAttached(): Promise<void>;
  status(): Promise<CardStatus>;
  /** Pull the card out and wait for the process to end (SIGKILL past a deadline). Idempotent. */
  close(): Promise<void>;
}

const CARD_SCRIPT = fileURLToPath(new URL('../reader/echo-card-process.ts', import.meta.url));

/** Start an echo card in its own process, in pcscd's network namespace, attaching to vpcd's `slot`. */
export async function startEchoCardProcess(pcscd: Pcscd, slot: 0 | 1 = 0): Promise<CardProcess> {
  const child = spawn('nsenter', [`--net=${pcscd.netns}`, '--', process.execPath, '--import', 'tsx', CARD_SCRIPT, String(pcscd.port + slot)], {
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
  const exited = once(child, 'exit');
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', (code, signal) => {
    process.off('exit', killOnExit);
    attached = false;
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

/**
 * Wait until pcscd reports a card present in `slot` (as `opensc-tool -l` shows it). vpcd taking
 * the card and pcscd publishing it are two steps: pcscd notices on its next reader poll.
 * A bounded readiness poll, not a fixed sleep.
 */
export async function waitForCardPresent(pcscd: Pcscd, slot: 0 | 1 = 0, deadlineMs = 30_000): Promise<void> {
  const present = new RegExp(`^${slot}\\s+Yes\\s+${pcscd.readerName(slot)}$`, 'm');
  const list = () =>
    new Promise<string>((resolve) => execFile('opensc-tool', ['-l'], { env: pcscd.env, encoding: 'utf8' }, (_e, out, err) => resolve(`${out ?? ''}${err ?? ''}`)));
  const deadline = Date.now() + deadlineMs;
  while (!present.test(await list())) {
    if (Date.now() > deadline) throw new Error(`pcscd never reported a card present in slot ${slot}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
