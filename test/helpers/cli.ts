/** Running the real `juki` command as a child process, as a user would. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'juki.js');

export function juki(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, cwd: root });
}

/**
 * Start a long-running juki command and resolve once a stdout line matches `ready`
 * (no sleeps: readiness is what the command prints). Rejects if it exits first.
 */
export function startJuki(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; match: RegExpMatchArray; stderr: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = line.match(ready);
      if (m) resolve({ child, match: m, stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`juki ${args.join(' ')} exited with ${code} before ready: ${err}`)));
  });
}

/** Send a signal and wait for the exit code. */
export function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}
