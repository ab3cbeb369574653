/**
 * `juki terminal`: a terminal agent in its own process, serving its reader and PIN pad over
 * mutual TLS to one CS only. The CS side here (this test process) re-keys a blank card in the
 * terminal's virtual reader with the counter's real re-key step over HttpsTerminalClient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoftwareKeyStore } from '../../src/crypto/index.ts';
import { inspectCard, municipalityCardKeys, rekeyBlankCard, diversifiedKeySource, lotMasterKeyName, MAKER_TRANSPORT_KVN } from '../../src/cs/index.ts';
import { KEY_DOMAINS } from '../../src/crypto/index.ts';
import { DEFAULT_TOPOLOGY } from '../../src/net/index.ts';
import { HttpsTerminalClient } from '../../src/terminal/index.ts';
import { juki, startJuki, stop } from '../helpers/cli.ts';

test('juki terminal: help, and one-line errors for missing or bad arguments', () => {
  const help = juki(['terminal', '--help']);
  assert.equal(help.status, 0, help.stderr);
  for (const s of ['--pin-pad', '--reader', '--pki', '--cs']) assert.ok(help.stdout.includes(s), s);
  for (const [args, pattern] of [
    [[], /--id: required/],
    [['--id', '131016-counter-1'], /--cs: required/],
    [['--id', 'bad id!', '--cs', 'municipality-131016'], /--id: expected/],
    [['--id', '131016-counter-1', '--cs', 'municipality-131016'], /--pki DIR or --cert/],
    [['--id', '131016-counter-1', '--cs', 'municipality-131016', '--pki', '/nonexistent-juki-pki'], /--pki: no such file/],
  ] as [string[], RegExp][]) {
    const r = juki(['terminal', ...args]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('juki terminal: serves its reader over mutual TLS to its CS only; the CS re-keys the blank card in it through the relay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-terminal-'));
  try {
    const topo = join(dir, 'topology.json');
    writeFileSync(topo, JSON.stringify(DEFAULT_TOPOLOGY));
    const pki = join(dir, 'pki');
    assert.equal(juki(['pki', 'init', '--topology', topo, '--out', pki]).status, 0);
    const keystore = join(dir, 'keystore');
    const made = juki(['card', 'new', '--lot', 'L1', '--out', join(dir, 'blank.card'), '--keystore', keystore, '--json']);
    assert.equal(made.status, 0, made.stderr);
    const agent = await startJuki([
      'terminal', '--id', '131016-counter-1', '--cs', 'municipality-131016', '--pki', pki, '--reader', 'virtual:counter-1-reader',
      '--card', join(dir, 'blank.card'), '--keystore', keystore, '--pin-pad', 'virtual', '--port', '0',
    ], /listening on (https:\/\/\S+)/);
    try {
      const caPem = readFileSync(join(pki, 'ca.crt'), 'utf8');
      const as = (node: string) => new HttpsTerminalClient({
        url: agent.match[1]!, terminalId: 'terminal-131016-counter-1', caPem,
        certPem: readFileSync(join(pki, 'nodes', `${node}.crt`), 'utf8'), keyPem: readFileSync(join(pki, 'nodes', `${node}.key`), 'utf8'),
      });
      const other = as('municipality-131024');
      await assert.rejects(other.readers());
      const cs = as('municipality-131016');
      assert.deepEqual(await cs.readers(), [{ name: 'counter-1-reader', cardPresent: true }]);
      // The CS's re-key step through the relay (the lot master handed over in the key store).
      const store = new SoftwareKeyStore(keystore);
      const master = store.secretKey(lotMasterKeyName('L1'), false);
      const keys = municipalityCardKeys(store);
      const relay = await (await import('../../src/terminal/index.ts')).relayTransport(cs, 'counter-1-reader');
      const r = await rekeyBlankCard(relay, { makerTransport: diversifiedKeySource({ enc: master, mac: master, dek: master }, KEY_DOMAINS.transport, MAKER_TRANSPORT_KVN), municipalityTransport: keys.transport });
      assert.equal(r.alreadyRekeyed, false);
      const state = await inspectCard(relay, [keys.transport]);
      assert.deepEqual(state.keyVersions, [0x70]);
      store.close();
    } finally {
      assert.equal(await stop(agent.child), 0, agent.stderr());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
