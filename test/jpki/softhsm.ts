/**
 * A real SoftHSM2 token for one test file: a temp folder holding softhsm2.conf and the token
 * directory, SOFTHSM2_CONF pointing at it (read by the module at C_Initialize), and a token
 * initialised with `softhsm2-util --init-token --free`. When softhsm2 is not installed this
 * throws, naming the Debian package: the PKCS#11 tests fail, they never skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  readonly module: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
  readonly dir: string;
  /** Environment for running tools (softhsm2-util, pkcs11-tool) against this token. */
  readonly env: NodeJS.ProcessEnv;
  remove(): void;
}

export function createSoftHsmToken(tokenLabel = 'juki-test'): SoftHsmToken {
  const util = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' });
  if (util.error || !existsSync(SOFTHSM_MODULE)) {
    throw new Error(`SoftHSM2 is not installed (softhsm2-util or ${SOFTHSM_MODULE} missing): install the Debian package with \`apt-get install -y softhsm2\``);
  }
  const dir = mkdtempSync(join(tmpdir(), 'juki-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  // The module reads SOFTHSM2_CONF when C_Initialize runs in this process.
  process.env.SOFTHSM2_CONF = conf;
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const pin = '4711-juki-user';
  const soPin = '0815-juki-so';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--so-pin', soPin, '--pin', pin], { env, stdio: 'pipe' });
  return {
    module: SOFTHSM_MODULE, tokenLabel, pin, soPin, dir, env,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
