/**
 * A keyv store adapter that seals every value with AES-256-GCM before handing it to another
 * adapter (the embedded file store), so refresh tokens never reach the disk in plain text.
 * Keys stay readable: they name objects, not secrets.
 */
import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import type { SecretCipher } from './secret-cipher.js';

export class EncryptedStore extends EventEmitter implements KeyvStoreAdapter {
  // keyv's adapter contract types `opts` as any; it only reads it for the dialect.
  // biome-ignore lint/suspicious/noExplicitAny: keyv's KeyvStoreAdapter declares opts as any
  opts: any = { dialect: 'encrypted' };

  /** keyv sets its namespace here; the inner store needs it so that clear() keeps other namespaces. */
  get namespace(): string | undefined {
    return this.inner.namespace;
  }

  set namespace(namespace: string | undefined) {
    this.inner.namespace = namespace;
  }

  constructor(
    private readonly inner: KeyvStoreAdapter,
    private readonly cipher: SecretCipher,
  ) {
    super();
    inner.on('error', (error: unknown) => this.emit('error', error));
  }

  private unseal<Value>(raw: unknown): StoredData<Value> | undefined {
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== 'string') throw new Error('the secrets store holds a value that is not sealed');
    return this.cipher.open(raw) as StoredData<Value>;
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.unseal<Value>(await this.inner.get(key));
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    return Promise.all(keys.map((key) => this.get<Value>(key))) as Promise<
      Array<StoredData<Value | undefined>>
    >;
  }

  // biome-ignore lint/suspicious/noExplicitAny: keyv hands the serialized value typed as any
  async set(key: string, value: any, ttl?: number): Promise<boolean> {
    const plain = typeof value === 'string' ? value : JSON.stringify(value);
    await this.inner.set(key, this.cipher.seal(plain), ttl);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.inner.delete(key);
  }

  async clear(): Promise<void> {
    await this.inner.clear();
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async disconnect(): Promise<void> {
    await this.inner.disconnect?.();
  }
}
