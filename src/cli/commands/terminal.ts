/**
 * `juki terminal`: a terminal agent (a counter's card reader and its separate PIN pad) serving
 * `TerminalAgentApi` to its CS over HTTPS with mutual TLS (src/terminal/https.ts). Only the CS
 * named by --cs may drive it (its node certificate from the network CA); the CS reaches the
 * card through the relay (which refuses PIN-bearing commands) and asks for local PIN steps,
 * whose digits go from the pad to the card and nowhere else.
 */
import { timingSafeEqual, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueNodeCertificate, nodeId, parseNodeId, peerIdentity } from '../../net/index.ts';
import { openPcsc, PcscReader, VirtualReader, type CardReader } from '../../reader/index.ts';
import { PinEntry, ScriptedPinPad, serveTerminalHttps, Terminal, type PinPad, type PinPadResult, type PinRequest } from '../../terminal/index.ts';
import { JukiError, invalid } from '../../util/index.ts';
import { type Command, out } from '../command.ts';
import { parsePort, runUntilSignalled } from '../runtime.ts';
import { openCardFile, openKeyStore, keystoreDir } from './card-common.ts';
import { TERMINAL_ID } from '../terminals-file.ts';
import { terminalPeers } from '../terminal-peers.ts';


/**
 * A PIN pad on this process's terminal: the prompt on stderr, the keys read from the TTY with
 * echo off (a `*` per key), Enter for OK, Esc or Ctrl-C for cancel. The digits become a
 * PinEntry at once; the confirmation is compared here.
 */
export class ConsolePinPad implements PinPad {
  constructor(
    private readonly input: NodeJS.ReadStream = process.stdin,
    private readonly output: NodeJS.WriteStream = process.stderr,
  ) {
    if (!input.isTTY) throw new JukiError('JUKI_ERR_USAGE', '--pin-pad console: standard input is not a terminal (use --pin-pad virtual for tests)');
  }

  async collect(request: PinRequest): Promise<PinPadResult> {
    const first = await this.#read(request.prompt, request.maxLength);
    if (!first) return { kind: 'cancelled' };
    const bad = shape(first, request);
    if (bad) {
      first.fill(0);
      return { kind: 'invalid', reason: bad };
    }
    if (!request.confirm) return { kind: 'entered', entry: PinEntry.fromPad(first) };
    const second = await this.#read(`${request.prompt} (again)`, request.maxLength);
    if (!second) {
      first.fill(0);
      return { kind: 'cancelled' };
    }
    const same = first.length === second.length && timingSafeEqual(first, second);
    second.fill(0);
    if (!same) {
      first.fill(0);
      return { kind: 'mismatch' };
    }
    return { kind: 'entered', entry: PinEntry.fromPad(first) };
  }

  #read(prompt: string, max: number): Promise<Uint8Array | undefined> {
    const buf = new Uint8Array(max + 1);
    let n = 0;
    this.output.write(`PIN pad: ${prompt}: `);
    this.input.setRawMode(true);
    this.input.resume();
    return new Promise((resolve) => {
      const done = (v: Uint8Array | undefined) => {
        this.input.off('data', onData);
        this.input.setRawMode(false);
        this.input.pause();
        this.output.write('\n');
        resolve(v);
      };
      const onData = (chunk: Buffer) => {
        for (const c of chunk) {
          if (c === 0x0d || c === 0x0a) {
            const v = buf.slice(0, n);
            buf.fill(0);
            return done(v);
          }
          if (c === 0x1b || c === 0x03) {
            buf.fill(0);
            return done(undefined);
          }
          if ((c === 0x7f || c === 0x08) && n > 0) {
            buf[--n] = 0;
            this.output.write('\b \b');
          } else if (c >= 0x21 && c <= 0x7e && n <= max) {
            buf[n++] = c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
            this.output.write('*');
          }
        }
        chunk.fill(0);
      };
      this.input.on('data', onData);
    });
  }
}

function shape(b: Uint8Array, r: PinRequest): 'length' | 'characters' | undefined {
  const ok = (c: number) => (c >= 0x30 && c <= 0x39) || (r.characters === 'A-Z0-9' && c >= 0x41 && c <= 0x5a);
  if (!b.every(ok)) return 'characters';
  if (b.length < r.minLength || b.length > r.maxLength) return 'length';
  return undefined;
}

export const terminalCommand: Command = {
  path: ['terminal'],
  summary: 'Run a terminal agent (card reader + PIN pad) for its CS over mutual TLS',
  usage: '--id ID --cs NODE (--pki DIR | --cert FILE --key FILE --ca FILE) [--reader virtual[:NAME]|pcsc:NAME] [--card FILE] [--keystore DIR] [--pin-pad console|virtual] [--relay-for NODE] [--host HOST] [--port PORT] [--json]',
  options: {
    id: { type: 'string' },
    cs: { type: 'string' },
    pki: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
    reader: { type: 'string', default: 'virtual' },
    card: { type: 'string' },
    keystore: { type: 'string' },
    'pin-pad': { type: 'string', default: 'console' },
    'relay-for': { type: 'string', multiple: true },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  help: `
Starts the terminal agent of a counter (or agency desk): one card reader and a separate PIN
pad, served over HTTPS with mutual TLS to one CS only. The CS drives cards through the relay
(server-built APDUs; any command that would carry a PIN is refused) and asks for local PIN
steps: the holder types on this terminal's pad and the digits go to the card, nowhere else.
Register the terminal at the CS with the same reader name (POST /<cs>/terminals).

Options:
  --id ID            the terminal's id, e.g. 131016-counter-1 (its node id: terminal-<ID>)
  --cs NODE          the only node allowed to drive it, e.g. municipality-131016
  --relay-for NODE   also admit NODE to the relay only (list readers, connect, transmit; no
                     PIN steps, no release): an agency desk's terminal takes
                     --cs agency-passport --relay-for national, so the national center reads
                     the card (R4.2.1) while the PIN stays on this pad (repeatable)
  --pki DIR          a 'juki pki init' folder: the network CA (ca.crt) and this terminal's
                     certificate nodes/terminal-<ID>.crt/.key, issued there with ca.key on
                     first start when missing
  --cert/--key/--ca  or the terminal's certificate, key and the network CA as PEM files
  --reader R         virtual[:NAME] (an in-process slot, default name reader-1) or pcsc:NAME
                     (a PC/SC reader through pcscd)
  --card FILE        with a virtual reader: a sealed card image to insert (juki card new);
                     --keystore DIR holds its sealing key
  --pin-pad P        console (this terminal's keyboard, no echo: Enter = OK, Esc = cancel;
                     the default) or virtual (a pad nobody types on: for tests)
  --host HOST        address to listen on (default 127.0.0.1)
  --port PORT        TCP port (default 8394; 0 picks a free one)
  --json             print the URL, terminal and reader as one JSON line

Runs until interrupted (Ctrl-C or SIGTERM).`,
  async run({ values, stdout, stderr }) {
    const id = values.id as string | undefined;
    if (id === undefined) throw new JukiError('JUKI_ERR_USAGE', "--id: required: the terminal's id, e.g. 131016-counter-1 (see 'juki terminal --help')");
    if (!TERMINAL_ID.test(id)) throw invalid('--id', `expected 1-32 letters, digits or '-', got ${JSON.stringify(id)}`);
    const cs = values.cs as string | undefined;
    if (cs === undefined) throw new JukiError('JUKI_ERR_USAGE', "--cs: required: the CS node allowed to drive this terminal, e.g. municipality-131016");
    const port = parsePort(values.port as string | undefined, 8394);
    const relayFor = (values['relay-for'] as string[] | undefined) ?? [];
    for (const n of relayFor) {
      try {
        parseNodeId(n);
      } catch {
        throw invalid('--relay-for', `expected a node id, e.g. national, got ${JSON.stringify(n)}`);
      }
    }
    const spec = { role: 'terminal' as const, code: id };
    const creds = await terminalCredentials(values, spec);
    const padKind = values['pin-pad'] as string;
    if (padKind !== 'console' && padKind !== 'virtual') throw invalid('--pin-pad', `expected console or virtual, got ${JSON.stringify(padKind)}`);
    const readerArg = values.reader as string;
    let reader: CardReader;
    let closeReader = async () => {};
    const v = /^virtual(?::([A-Za-z0-9._-]{1,64}))?$/.exec(readerArg);
    const p = /^pcsc:(.{1,128})$/.exec(readerArg);
    if (v) {
      const vr = new VirtualReader(v[1] ?? 'reader-1');
      if (values.card !== undefined) vr.insert(openCardFile(values.card as string, openKeyStore(keystoreDir(values))).card);
      reader = vr;
    } else if (p) {
      if (values.card !== undefined) throw invalid('--card', 'only a virtual reader takes a card image');
      const ctx = await openPcsc();
      reader = new PcscReader(ctx, p[1]!);
      closeReader = async () => ctx.close();
    } else throw invalid('--reader', `expected virtual[:NAME] or pcsc:NAME, got ${JSON.stringify(readerArg)}`);
    const pad: PinPad = padKind === 'console' ? new ConsolePinPad() : new ScriptedPinPad();
    const terminal = new Terminal({ id: nodeId(spec), readers: [reader], pinPad: pad });
    const server = await serveTerminalHttps(terminal, {
      keyPem: creds.keyPem, certPem: creds.certPem, caPem: creds.caPem, host: values.host as string, port,
      authorisePeer: relayFor.length ? terminalPeers(cs, relayFor) : onlyNode(cs),
    });
    if (values.json) out(stdout, { url: server.url, terminal: nodeId(spec), reader: reader.name, cs });
    else {
      out(stdout, `juki terminal ${nodeId(spec)}: reader ${reader.name}, PIN pad ${padKind}, for ${cs} only${relayFor.length ? ` (relay also for ${relayFor.join(', ')})` : ''}`);
      out(stdout, `listening on ${server.url} (mutual TLS; Ctrl-C to stop)`);
    }
    return runUntilSignalled({
      close: async () => {
        await server.close();
        await terminal.close();
        await closeReader();
      },
    } as never, (line) => out(stderr, `juki terminal: ${line}`));
  },
};

/** The terminal admits one client: the node `cs` (its certificate from the network CA names it); any other is refused. */
export function onlyNode(cs: string): (cert: X509Certificate) => boolean {
  return (cert) => {
    try {
      return nodeId(peerIdentity(cert)) === cs;
    } catch {
      return false;
    }
  };
}

/** The terminal's certificate, key and the network CA, from --cert/--key/--ca or a pki folder. */
export async function terminalCredentials(values: Record<string, unknown>, spec: { role: 'terminal'; code: string }): Promise<{ certPem: string; keyPem: string; caPem: string }> {
  const read = (file: string, field: string) => {
    if (!existsSync(file)) throw new JukiError('JUKI_ERR_FILE', `${field}: no such file: ${file}`, { field });
    return readFileSync(file, 'utf8');
  };
  if (values.pki !== undefined) {
    if (values.cert !== undefined || values.key !== undefined || values.ca !== undefined) throw new JukiError('JUKI_ERR_USAGE', '--pki: give either --pki DIR or --cert, --key and --ca, not both');
    const dir = values.pki as string;
    const caPem = read(join(dir, 'ca.crt'), '--pki');
    const cert = join(dir, 'nodes', `${nodeId(spec)}.crt`);
    const key = join(dir, 'nodes', `${nodeId(spec)}.key`);
    if (!existsSync(cert) || !existsSync(key)) {
      const caKey = join(dir, 'ca.key');
      if (!existsSync(caKey)) throw new JukiError('JUKI_ERR_FILE', `--pki: no certificate ${cert} and no ca.key to issue one: issue it where the CA key is kept`, { field: '--pki' });
      const issued = await issueNodeCertificate({ certPem: caPem, keyPem: read(caKey, '--pki') }, spec);
      writeFileSync(key, issued.keyPem, { mode: 0o600 });
      writeFileSync(cert, issued.certPem, { mode: 0o644 });
    }
    return { caPem, certPem: read(cert, '--pki'), keyPem: read(key, '--pki') };
  }
  if (values.cert === undefined || values.key === undefined || values.ca === undefined) {
    throw new JukiError('JUKI_ERR_USAGE', "--pki DIR or --cert FILE --key FILE --ca FILE: required: the terminal's certificate (see 'juki terminal --help')");
  }
  return { certPem: read(values.cert as string, '--cert'), keyPem: read(values.key as string, '--key'), caPem: read(values.ca as string, '--ca') };
}
