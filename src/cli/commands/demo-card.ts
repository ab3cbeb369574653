/**
 * `juki demo card`: issue a card for a synthetic resident with both JPKI certificates, the way
 * a counter does, in one process, so a person can put it in a reader (`juki card vpcd`) and try
 * it with OpenSC. Nothing writes the card image directly: the card answers APDUs only.
 *
 *   maker      manufactureBlankCard: transport keys from the lot master lot:demo:transport-master,
 *              the JPKI initial set from the jpki side (jpkiInitialKeys: the initial master, never the jpki role's)
 *   counter    rekeyBlankCard (maker → municipality transport keys, R3.1.1a)
 *              personaliseCard (basic area; its keys from the national center's key service)
 *              installJpkiArea (the ISD installs the JPKI AP; no key: the card binds it to its initial set)
 *   jpki role  personaliseJpkiCard (replaces the initial set by its own, key pairs made on the card, certified by the data dir's CA)
 *   holder     setPinOnPinPad ×3 on a ScriptedPinPad: basic PIN, JPKI auth PIN, sign password
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Card, CARD_MODULES, FileBlobStore, SealedCardStore, cardIdOf, manufactureBlankCard } from '../../card/index.ts';
import { KEY_DOMAINS } from '../../crypto/index.ts';
import {
  diversifiedKeySource, installJpkiArea, KeyStoreBasicKeyService, MAKER_TRANSPORT_KVN, municipalityCardKeys, personaliseCard, rekeyBlankCard, setPinOnPinPad,
} from '../../cs/index.ts';
import { openDatabase } from '../../db/index.ts';
import { jpkiInitialKeys, personaliseJpkiCard } from '../../jpki/index.ts';
import { InProcessTransport, type CardTransport } from '../../reader/index.ts';
import { municipality, syntheticResidents, todayInJapan, type RegisterEntry } from '../../register/index.ts';
import { ScriptedPinPad, type PinApplicationName } from '../../terminal/index.ts';
import { JukiError, invalid } from '../../util/index.ts';
import { type Command, jsonOption, out } from '../command.ts';
import { openJpkiCa } from '../jpki-ca.ts';
import { defaultDataDir, defaultDbLocation, defaultKeystoreDir } from '../runtime.ts';
import { openKeyStore } from './card-common.ts';
import { lotMasterName } from './card-new.ts';

/** The delivery lot demo cards come from. */
export const DEMO_LOT = 'demo';
const DEFAULT_URL = 'http://127.0.0.1:8392';

/** The holder's PIN (basic area and JPKI user authentication): 4 digits. */
export function checkDemoPin(pin: unknown): string {
  if (typeof pin !== 'string' || !/^[0-9]{4}$/.test(pin)) throw invalid('--pin', `expected 4 digits, got ${typeof pin === 'string' ? `${pin.length} characters${/^[0-9]*$/.test(pin) ? '' : ' (not all digits)'}` : 'nothing'}`);
  return pin;
}

/** The JPKI signature password: 6 to 16 of A-Z 0-9, with at least one letter and one digit (docs/card-protocol.md). */
export function checkSignPassword(pw: unknown): string {
  if (typeof pw !== 'string') throw invalid('--sign-password', 'expected 6 to 16 of A-Z 0-9 with a letter and a digit, got nothing');
  const what = `${pw.length} characters`;
  if (pw.length < 6 || pw.length > 16) throw invalid('--sign-password', `expected 6 to 16 of A-Z 0-9 with a letter and a digit, got ${what}`);
  if (!/^[A-Z0-9]+$/.test(pw)) throw invalid('--sign-password', `expected only A-Z 0-9 (upper-case letters and digits), got ${what} with others`);
  if (!/[A-Z]/.test(pw) || !/[0-9]/.test(pw)) throw invalid('--sign-password', `expected at least one letter and one digit, got ${/[A-Z]/.test(pw) ? 'no digit' : 'no letter'}`);
  return pw;
}

function wholeNumber(text: string, field: string, min: number, max: number): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) throw invalid(field, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** The first resident of the seed's register who is an adult today (the signature certificate is for 15 and over). */
function demoResident(entries: readonly RegisterEntry[], today: string): RegisterEntry {
  const adult = entries.find((e) => e.resident.birthDate <= addDays(today, -20 * 366));
  if (!adult) throw new JukiError('JUKI_ERR_NOT_FOUND', 'no adult among the first synthetic residents of this seed; try another --seed');
  return adult;
}

const compact = (isoDate: string) => isoDate.replaceAll('-', '');
/** YYYY-MM-DD `days` days after `isoDate`. */
const addDays = (isoDate: string, days: number) => new Date(Date.parse(`${isoDate}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

export const demoCardCommand: Command = {
  path: ['demo', 'card'],
  summary: 'Issue a demo card (synthetic resident, both JPKI certificates) by the counter\'s flows',
  usage: '--out FILE --pin NNNN --sign-password XXXXXX [--municipality CODE] [--seed N] [--data-dir DIR] [--keystore DIR] [--url URL] [--force] [--json]',
  options: {
    out: { type: 'string' },
    pin: { type: 'string' },
    'sign-password': { type: 'string' },
    municipality: { type: 'string', default: '131016' },
    seed: { type: 'string', default: '1' },
    'data-dir': { type: 'string' },
    keystore: { type: 'string' },
    url: { type: 'string', default: DEFAULT_URL },
    force: { type: 'boolean', default: false },
    ...jsonOption,
  },
  help: `
PINs on the command line are for tests and demos only: they end up in shell history and in
the process list. A real holder types them on the PIN pad, and so does this command: the
values given are typed on an in-process PIN pad (ScriptedPinPad), which sends them to the card
in CHANGE REFERENCE DATA exactly as a counter's pad does.

Issues one card the way a counter does, in this process: a blank card from the lot "demo"
(its transport master kept in the key store), re-keyed, the basic area personalised for the
first adult synthetic resident of the municipality (the register generator, --seed), the JPKI
area installed and personalised by the jpki role's flow (key pairs made on the card, both
certificates issued by the CA of the data dir's jpki node, the one 'juki up' serves), then
the basic PIN, the JPKI user-authentication PIN (both --pin) and the JPKI signature password
set on the PIN pad. The card image is sealed into FILE (the key store keeps its sealing key).

Options:
  --out FILE             the card image to write (refused if it exists, unless --force)
  --pin NNNN             4 digits: the basic-area PIN and the JPKI user-authentication PIN
  --sign-password XXXXXX 6 to 16 of A-Z 0-9 with a letter and a digit: the JPKI signature password
  --municipality CODE    the issuing municipality (default 131016)
  --seed N               the synthetic register's seed (default 1)
  --data-dir DIR         where node databases live (default $JUKI_DATA_DIR, else .juki/data);
                         the JPKI CA is <data dir>/jpki.sqlite
  --keystore DIR         the host key store (default $JUKI_KEYSTORE, else <data dir>/keystore)
  --url URL              where 'juki up' serves (default ${DEFAULT_URL}): the certificates
                         name <URL>/jpki/ocsp and <URL>/jpki/crl/... (only when the CA is new)
  --force                replace FILE
  --json                 print the result as one JSON object

Then: juki card vpcd --card FILE --keystore DIR (README, "Try the card with OpenSC").`,
  async run({ values, stdout }) {
    // Every argument is checked before anything is opened or written.
    const file = values.out as string | undefined;
    if (file === undefined) throw new JukiError('JUKI_ERR_USAGE', "--out: required: the card image file to write (see 'juki demo card --help')");
    if (values.pin === undefined) throw new JukiError('JUKI_ERR_USAGE', "--pin: required: 4 digits (see 'juki demo card --help')");
    if (values['sign-password'] === undefined) throw new JukiError('JUKI_ERR_USAGE', "--sign-password: required: 6 to 16 of A-Z 0-9 (see 'juki demo card --help')");
    const pin = checkDemoPin(values.pin);
    const signPassword = checkSignPassword(values['sign-password']);
    const m = municipality(values.municipality, '--municipality');
    const seed = wholeNumber(values.seed as string, '--seed', 0, 0xffffffff);
    const url = (values.url as string).replace(/\/+$/, '');
    if (!/^https?:\/\/[^\s/]+$/.test(url)) throw invalid('--url', `expected http://HOST[:PORT] with no path, got ${JSON.stringify(values.url)}`);
    const path = resolve(file);
    if (!existsSync(dirname(path)) || !statSync(dirname(path)).isDirectory()) throw new JukiError('JUKI_ERR_FILE', `--out: no such folder: ${dirname(file)}`, { field: '--out' });
    if (existsSync(path)) {
      if (!values.force) throw new JukiError('JUKI_ERR_CONFLICT', `--out: ${file} already exists; use --force to replace it`, { field: '--out' });
      if (!statSync(path).isFile()) throw new JukiError('JUKI_ERR_FILE', `--out: ${file} is not a file`, { field: '--out' });
    }
    const dataDir = resolve((values['data-dir'] as string | undefined) ?? defaultDataDir());
    const keystoreDir = resolve((values.keystore as string | undefined) ?? defaultKeystoreDir(dataDir));
    const today = todayInJapan();
    const resident = demoResident(syntheticResidents({ seed, municipality: m, count: 40 }), today).resident;

    const keyStore = openKeyStore(keystoreDir);
    const database = await openDatabase(defaultDbLocation({ role: 'jpki' }, dataDir));
    const ca = await openJpkiCa({ id: 'jpki', database, keystoreDir, baseUrl: `${url}/jpki` }).catch(async (e: unknown) => {
      await database.close();
      throw e;
    });
    // Built beside FILE and renamed over it at the end: a failed run leaves FILE as it was.
    const partial = `${path}.partial`;
    let transport: CardTransport | undefined;
    let card: Card | undefined;
    try {
      if (existsSync(partial)) unlinkSync(partial);
      const serial = new Uint8Array(randomBytes(10));
      const cardId = cardIdOf(serial);
      const store = new SealedCardStore({ cardId, keyStore, blobs: new FileBlobStore(partial) });
      const lotMaster = keyStore.secretKey(lotMasterName(DEMO_LOT), true);
      // The maker gets this card's JPKI initial set from the jpki side (R5.1); the jpki role replaces it first thing.
      const jpkiInitial = jpkiInitialKeys(ca.hostKeys, serial);
      try {
        manufactureBlankCard(store, { serial, transportMaster: { enc: lotMaster, mac: lotMaster, dek: lotMaster }, jpkiInitial: { keys: jpkiInitial } });
      } finally {
        lotMaster.fill(0);
        for (const k of [jpkiInitial.enc, jpkiInitial.mac, jpkiInitial.dek]) k.fill(0);
      }
      card = new Card({ store, types: CARD_MODULES });
      card.powerOn();
      transport = new InProcessTransport(card, { powerOffOnClose: false });

      // The counter: re-key the delivery, personalise the basic area.
      const lotKeys = keyStore.secretKey(lotMasterName(DEMO_LOT), false);
      const maker = diversifiedKeySource({ enc: lotKeys, mac: lotKeys, dek: lotKeys }, KEY_DOMAINS.transport, MAKER_TRANSPORT_KVN, 'maker transport');
      const keys = municipalityCardKeys(keyStore);
      try {
        await rekeyBlankCard(transport, { makerTransport: maker, municipalityTransport: keys.transport });
      } finally {
        lotKeys.fill(0);
      }
      const name = `${resident.name.family} ${resident.name.given}`;
      const issued = compact(today);
      await personaliseCard(transport, {
        data: {
          residentCode: resident.residentCode,
          cardNumber: cardId.slice(-16).toUpperCase(),
          municipality: m.code,
          issued,
          expires: compact(addDays(today, 3652)),
          // src/face is not built yet: an unsigned stand-in for the signed face record.
          faceRecord: new Uint8Array(Buffer.from(`juki demo face record (unsigned)\n${name}\n${resident.birthDate}\n${resident.address}\n`, 'utf8')),
        },
        transportKeys: keys.transport,
        issuerKeys: keys.issuer,
        basicKeys: new KeyStoreBasicKeyService(keyStore),
      });
      // The ISD installs the JPKI area (no key passes); the jpki role re-keys and personalises it.
      await installJpkiArea(transport, { issuerKeys: keys.issuer });
      const jpki = await personaliseJpkiCard({
        transport,
        keyStore: ca.hostKeys,
        authority: ca.authority,
        holder: { name, sex: resident.sex, birthDate: resident.birthDate, address: resident.address },
      });
      // The holder, on the PIN pad.
      const pad = new ScriptedPinPad();
      for (const [app, value] of [['basic', pin], ['jpkiAuth', pin], ['jpkiSign', signPassword]] as [PinApplicationName, string][]) {
        pad.type(value);
        pad.type(value);
        const outcome = await setPinOnPinPad(transport, pad, app);
        if (outcome.kind !== 'set') throw new JukiError('JUKI_ERR_CARD_STATUS', `setting the ${app} PIN on the PIN pad: ${outcome.kind}${'reason' in outcome ? ` (${outcome.reason})` : ''}`);
      }
      await transport.close();
      transport = undefined;
      card.powerOff();
      renameSync(partial, path);

      const result = {
        card: file,
        serial: cardId.toUpperCase(),
        municipality: m.code,
        resident: { residentCode: resident.residentCode, name, sex: resident.sex, birthDate: resident.birthDate, address: resident.address },
        certificates: {
          auth: { serial: jpki.auth.serial, ca: jpki.auth.caId, notAfter: jpki.auth.notAfter },
          ...(jpki.sign ? { sign: { serial: jpki.sign.serial, ca: jpki.sign.caId, notAfter: jpki.sign.notAfter } } : {}),
        },
        ocsp: `${url}/jpki/ocsp`,
        caCertificates: `${url}/jpki/certs/`,
        keystore: keystoreDir,
      };
      if (values.json) out(stdout, result);
      else {
        out(stdout, `demo card ${result.serial} written to ${file} (key store ${keystoreDir})`);
        out(stdout, `  resident   ${resident.residentCode} ${name} (${resident.sex}, born ${resident.birthDate}), ${resident.address}; municipality ${m.code}`);
        out(stdout, `  JPKI auth  certificate serial ${jpki.auth.serial} (${jpki.auth.caId})`);
        if (jpki.sign) out(stdout, `  JPKI sign  certificate serial ${jpki.sign.serial} (${jpki.sign.caId})`);
        out(stdout, `  OCSP       ${result.ocsp} and CA certificates ${result.caCertificates} while 'juki up --data-dir ${dataDir}' runs`);
        out(stdout, `  PINs set on the PIN pad: basic and JPKI auth (--pin), JPKI sign (--sign-password)`);
        out(stdout, `next: juki card vpcd --card ${file} --keystore ${keystoreDir}`);
      }
      return 0;
    } finally {
      await transport?.close().catch(() => {});
      card?.powerOff();
      if (existsSync(partial)) unlinkSync(partial);
      await ca.close();
      await database.close();
    }
  },
};
