/**
 * The PKCS#11 CA key store: key pairs generated on a token (an HSM; SoftHSM2 in tests) that
 * never leave it. Private keys are made with CKA_SENSITIVE=true and CKA_EXTRACTABLE=false
 * (PKCS#11 v2.40 §4.9: the token then refuses to reveal or wrap them), found by CKA_LABEL, and
 * used only through C_Sign with CKM_SHA256_RSA_PKCS.
 *
 * The user PIN comes from configuration or the environment (JUKI_JPKI_PKCS11_PIN); it is held
 * only for C_Login and never logged, printed or put in an error message.
 */
import { createHash, createPublicKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { JukiError } from '../util/index.ts';
import { CA_KEY_BITS, checkAlgorithm, checkLabel, type SigningAlgorithm, type SigningKeyStore } from './signing-keys.ts';

export interface Pkcs11Options {
  /** Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  readonly module: string;
  /** CKA label of the token to use (the `--label` given to `softhsm2-util --init-token`). */
  readonly tokenLabel: string;
  /** The token's user PIN. */
  readonly pin: string;
}

/** The protection flags a token reports for a private key (PKCS#11 v2.40 §4.9). */
export interface KeyProtection {
  readonly sensitive: boolean;
  readonly extractable: boolean;
  readonly alwaysSensitive: boolean;
  readonly neverExtractable: boolean;
  /** Generated on the token (not imported). */
  readonly local: boolean;
}

/** The environment variable the PKCS#11 user PIN is read from. */
export const PKCS11_PIN_ENV = 'JUKI_JPKI_PKCS11_PIN';

/** Read the PKCS#11 user PIN from the environment; refuses (without echoing anything) when unset or empty. */
export function pkcs11PinFromEnv(env: NodeJS.ProcessEnv = process.env, name = PKCS11_PIN_ENV): string {
  const pin = env[name];
  if (!pin) throw new JukiError('JUKI_ERR_KEYSTORE', `PKCS#11 CA key store: the user PIN is not configured: set ${name}`);
  return pin;
}

/** One loaded module per path, initialised once per process and finalised with its last user. */
const modules = new Map<string, { lib: pkcs11js.PKCS11; users: number }>();

function acquireModule(path: string): pkcs11js.PKCS11 {
  const held = modules.get(path);
  if (held) {
    held.users++;
    return held.lib;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
  } catch (e) {
    throw new JukiError('JUKI_ERR_KEYSTORE', `PKCS#11: cannot load module ${path}: ${(e as Error).message}`);
  }
  try {
    lib.C_Initialize();
  } catch (e) {
    if (!(e instanceof pkcs11js.Pkcs11Error && e.code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
      lib.close();
      throw p11Error('C_Initialize', e);
    }
  }
  modules.set(path, { lib, users: 1 });
  return lib;
}

function releaseModule(path: string): void {
  const held = modules.get(path);
  if (!held || --held.users > 0) return;
  modules.delete(path);
  try {
    held.lib.C_Finalize();
  } finally {
    held.lib.close();
  }
}

/** A JukiError for a failed PKCS#11 call, naming the call and the CKR code only. */
function p11Error(call: string, e: unknown): JukiError {
  const code = e instanceof pkcs11js.Pkcs11Error ? e.code : undefined;
  const name = code === undefined ? undefined : ckrName(code);
  return new JukiError('JUKI_ERR_KEYSTORE', `PKCS#11: ${call} failed: ${name ?? (e as Error).message}`, code === undefined ? {} : { ckr: name ?? code });
}

function ckrName(code: number): string | undefined {
  for (const [k, v] of Object.entries(pkcs11js)) if (k.startsWith('CKR_') && v === code) return k;
  return undefined;
}

function bool(value: Buffer | undefined): boolean {
  return value !== undefined && value.length > 0 && value[0] !== 0;
}

export class Pkcs11SigningKeyStore implements SigningKeyStore {
  readonly description: string;
  readonly #lib: pkcs11js.PKCS11;
  readonly #module: string;
  #session: Buffer | null;

  private constructor(lib: pkcs11js.PKCS11, module: string, session: Buffer, tokenLabel: string) {
    this.#lib = lib;
    this.#module = module;
    this.#session = session;
    this.description = `pkcs11:${module}#${tokenLabel}`;
  }

  /** Load the module, find the token by label, open a read-write session and log in as the user. */
  static open(options: Pkcs11Options): Pkcs11SigningKeyStore {
    const { module, tokenLabel, pin } = options;
    if (typeof tokenLabel !== 'string' || tokenLabel === '' || tokenLabel.length > 32) {
      throw new JukiError('JUKI_ERR_KEYSTORE', `PKCS#11: token label: expected 1-32 characters, got ${JSON.stringify(tokenLabel)}`);
    }
    if (typeof pin !== 'string' || pin === '') throw new JukiError('JUKI_ERR_KEYSTORE', 'PKCS#11: the user PIN is empty');
    const lib = acquireModule(module);
    let session: Buffer | null = null;
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === tokenLabel);
      if (!slot) throw new JukiError('JUKI_ERR_KEYSTORE', `PKCS#11: no token labelled ${JSON.stringify(tokenLabel)} in ${module}`);
      session = call('C_OpenSession', () => lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
      try {
        lib.C_Login(session, pkcs11js.CKU_USER, pin);
      } catch (e) {
        // Another session of this process may have logged the token in already (login state is per token).
        if (!(e instanceof pkcs11js.Pkcs11Error && e.code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) throw p11Error('C_Login', e);
      }
      return new Pkcs11SigningKeyStore(lib, module, session, tokenLabel);
    } catch (e) {
      if (session) lib.C_CloseSession(session);
      releaseModule(module);
      throw e;
    }
  }

  async generate(label: string): Promise<Uint8Array> {
    checkLabel(label);
    const session = this.#s();
    if (this.#find(pkcs11js.CKO_PRIVATE_KEY, label) || this.#find(pkcs11js.CKO_PUBLIC_KEY, label)) {
      throw new JukiError('JUKI_ERR_CONFLICT', `${this.description}: a key is already stored under ${JSON.stringify(label)}`);
    }
    const id = createHash('sha1').update(`juki-jpki-key:${label}`).digest();
    const common = [
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_LABEL, value: label },
      { type: pkcs11js.CKA_ID, value: id },
    ];
    call('C_GenerateKeyPair', () => this.#lib.C_GenerateKeyPair(
      session,
      { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
      [
        ...common,
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
        { type: pkcs11js.CKA_PRIVATE, value: false },
        { type: pkcs11js.CKA_VERIFY, value: true },
        { type: pkcs11js.CKA_ENCRYPT, value: false },
        { type: pkcs11js.CKA_WRAP, value: false },
        { type: pkcs11js.CKA_MODULUS_BITS, value: CA_KEY_BITS },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
      ],
      [
        ...common,
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        // The two attributes that keep the key inside the token (PKCS#11 v2.40 §4.9).
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_SIGN, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: false },
        { type: pkcs11js.CKA_UNWRAP, value: false },
      ],
    ));
    return this.publicKey(label);
  }

  async has(label: string): Promise<boolean> {
    checkLabel(label);
    return this.#find(pkcs11js.CKO_PRIVATE_KEY, label) !== null;
  }

  async publicKey(label: string): Promise<Uint8Array> {
    checkLabel(label);
    const key = this.#need(pkcs11js.CKO_PUBLIC_KEY, label);
    const [modulus, exponent] = call('C_GetAttributeValue', () => this.#lib.C_GetAttributeValue(this.#s(), key, [
      { type: pkcs11js.CKA_MODULUS },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT },
    ]));
    const jwk = { kty: 'RSA', n: modulus!.value.toString('base64url'), e: exponent!.value.toString('base64url') };
    return new Uint8Array(createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' }));
  }

  async sign(label: string, algorithm: SigningAlgorithm, data: Uint8Array): Promise<Uint8Array> {
    checkAlgorithm(algorithm);
    checkLabel(label);
    const session = this.#s();
    const key = this.#need(pkcs11js.CKO_PRIVATE_KEY, label);
    // PKCS#11 v2.40 Mechanisms §2.1.13: CKM_SHA256_RSA_PKCS hashes and applies RSASSA-PKCS1-v1_5.
    call('C_SignInit', () => this.#lib.C_SignInit(session, { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS }, key));
    const out = call('C_Sign', () => this.#lib.C_Sign(session, Buffer.from(data), Buffer.alloc(CA_KEY_BITS / 8)));
    return new Uint8Array(out);
  }

  /** The token's protection flags for the private key under `label`: proof it cannot be exported. */
  keyProtection(label: string): KeyProtection {
    checkLabel(label);
    const key = this.#need(pkcs11js.CKO_PRIVATE_KEY, label);
    const attrs = call('C_GetAttributeValue', () => this.#lib.C_GetAttributeValue(this.#s(), key, [
      { type: pkcs11js.CKA_SENSITIVE },
      { type: pkcs11js.CKA_EXTRACTABLE },
      { type: pkcs11js.CKA_ALWAYS_SENSITIVE },
      { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
      { type: pkcs11js.CKA_LOCAL },
    ]));
    return {
      sensitive: bool(attrs[0]?.value),
      extractable: bool(attrs[1]?.value),
      alwaysSensitive: bool(attrs[2]?.value),
      neverExtractable: bool(attrs[3]?.value),
      local: bool(attrs[4]?.value),
    };
  }

  async close(): Promise<void> {
    if (!this.#session) return;
    const session = this.#session;
    this.#session = null;
    try {
      this.#lib.C_CloseSession(session);
    } finally {
      releaseModule(this.#module);
    }
  }

  #s(): Buffer {
    if (!this.#session) throw new JukiError('JUKI_ERR_KEYSTORE', `${this.description}: the store is closed`);
    return this.#session;
  }

  #find(cls: number, label: string): Buffer | null {
    const session = this.#s();
    call('C_FindObjectsInit', () => this.#lib.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]));
    let found: Buffer[];
    try {
      found = call('C_FindObjects', () => this.#lib.C_FindObjects(session, 2));
    } finally {
      this.#lib.C_FindObjectsFinal(session);
    }
    if (found.length > 1) throw new JukiError('JUKI_ERR_KEYSTORE', `${this.description}: more than one key object labelled ${JSON.stringify(label)}`);
    return found[0] ?? null;
  }

  #need(cls: number, label: string): Buffer {
    const key = this.#find(cls, label);
    if (!key) throw new JukiError('JUKI_ERR_NOT_FOUND', `${this.description}: no key pair under ${JSON.stringify(label)}`);
    return key;
  }
}

function call<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof JukiError) throw e;
    throw p11Error(name, e);
  }
}
