/** A KeyStore in memory: for tests and benchmarks. Nothing survives the process. */
import { randomBytes } from 'node:crypto';
import type { KeyStore } from './keystore.ts';
import { checkKeyName } from './key-name.ts';
import { invalid, JukiError } from '../util/index.ts';

/** In-memory key store with the same rules as the software store (names, tombstones, monotonic counters). */
export class MemoryKeyStore implements KeyStore {
  readonly description = 'memory';
  readonly #keys = new Map<string, Uint8Array>();
  readonly #destroyed = new Set<string>();
  readonly #counters = new Map<string, number>();

  secretKey(name: string, create = true): Uint8Array {
    checkKeyName(name);
    if (this.#destroyed.has(name)) throw new JukiError('JUKI_ERR_KEYSTORE', `key ${name} was destroyed`, { name });
    let key = this.#keys.get(name);
    if (!key) {
      if (!create) throw new JukiError('JUKI_ERR_KEYSTORE', `no key named ${name}`, { name });
      key = new Uint8Array(randomBytes(32));
      this.#keys.set(name, key);
    }
    return key.slice();
  }

  hasKey(name: string): boolean {
    checkKeyName(name);
    return this.#keys.has(name);
  }

  destroyKey(name: string): void {
    checkKeyName(name);
    this.#keys.get(name)?.fill(0);
    this.#keys.delete(name);
    this.#destroyed.add(name);
  }

  readCounter(name: string): number {
    checkKeyName(name);
    return this.#counters.get(name) ?? 0;
  }

  advanceCounter(name: string, value: number): void {
    checkKeyName(name);
    checkCounterValue(value);
    const now = this.#counters.get(name) ?? 0;
    if (value < now) throw new JukiError('JUKI_ERR_KEYSTORE', `counter ${name} cannot go backwards: it is ${now}, asked for ${value}`, { name, current: now, requested: value });
    this.#counters.set(name, value);
  }
}

/** Counters are non-negative safe integers. */
export function checkCounterValue(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid('counter value', `expected a non-negative integer up to 2^53-1, got ${value}`);
}
