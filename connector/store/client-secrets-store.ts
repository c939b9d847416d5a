/**
 * The secrets store of mode `client` (GDRIVE_SECRETS_STORE=client): the refresh tokens live with
 * the client that starts the service (the Plesk extension keeps them in Plesk's encrypted
 * Key-Value Storage, pm_Settings::setEncrypted), and the connector holds them in memory only.
 * Nothing of it is ever written to disk.
 *
 * Protocol (routes in service/routes.ts, docs/http-api.md, "Secrets kept by the client"):
 * - The client loads its whole copy with `PUT /v1/secrets {entries}` (load()). Until then every
 *   request that needs a secret is answered 503 `secrets_not_loaded` before it changes anything,
 *   so the client loads and sends the same request once more.
 * - Every change the connector makes (connect, disconnect, a rotated refresh token) goes into a
 *   journal, kept until the client acknowledges it. While the journal is not empty every answer
 *   carries `Gdrive-Secrets-Pending: 1`; the client then reads `GET /v1/secrets/changes`
 *   (changes()), persists them, and acknowledges `POST /v1/secrets/changes/ack {version}` (ack()).
 *   A client that dies before its ack loses nothing: the journal stays and the next answer says
 *   so again. Changes made after the client read the journal have a higher version and stay.
 * - A second load while loaded is ignored: from the first load on, memory plus journal is the
 *   newest truth (every change goes through the connector), a late copy may predate it.
 *
 * Keys are opaque to both sides (keyv's `namespace:key`); values are the strings keyv hands
 * to the adapter (its serialized `{value, expires}`).
 */
import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import { GdriveBackupError } from '../errors/errors.js';

interface Entry {
  value: string;
  /** Absolute expiry in ms since the epoch (keyv's ttl); secrets have none in practice. */
  expire?: number;
}

/** A journaled change: the new value, or null for a deletion; `version` of its latest change. */
interface Change {
  value: string | null;
  version: number;
}

/**
 * pm_Settings holds 5000 characters per value (SDK stubs, pm_Settings::set); whether Plesk counts
 * the plain text or its ciphertext is not documented, so a value stays well below.
 */
export const MAX_SECRET_LENGTH = 4000;

export interface SecretChanges {
  version: number;
  set: Record<string, string>;
  delete: string[];
}

export class ClientSecretsStore extends EventEmitter implements KeyvStoreAdapter {
  readonly opts = { dialect: 'client-memory' };
  /** Set by keyv to its own namespace; clear() removes only the keys under it. */
  namespace?: string;
  private readonly data = new Map<string, Entry>();
  private readonly journal = new Map<string, Change>();
  private version = 0;
  private isLoaded = false;

  get loaded(): boolean {
    return this.isLoaded;
  }

  /** Whether changes wait for the client's acknowledgement. */
  get pending(): boolean {
    return this.journal.size > 0;
  }

  /** The client's full copy; ignored once loaded (see the protocol above). Says whether it applied. */
  load(entries: Record<string, string>): boolean {
    if (this.isLoaded) return false;
    for (const [key, value] of Object.entries(entries)) this.data.set(key, { value });
    // Changes made before the load (none in practice: requests wait for it) stay newer.
    for (const [key, change] of this.journal) {
      if (change.value === null) this.data.delete(key);
      else this.data.set(key, { value: change.value });
    }
    this.isLoaded = true;
    return true;
  }

  changes(): SecretChanges {
    const set: Record<string, string> = {};
    const deleted: string[] = [];
    for (const [key, change] of this.journal) {
      if (change.value === null) deleted.push(key);
      else set[key] = change.value;
    }
    return { version: this.version, set, delete: deleted };
  }

  /** Forgets the changes up to `version`, which the client has persisted. */
  ack(version: number): void {
    for (const [key, change] of this.journal) if (change.version <= version) this.journal.delete(key);
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.live(key)?.value as StoredData<Value> | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    this.requireLoaded();
    return keys.map((key) => this.live(key)?.value as StoredData<Value | undefined>);
  }

  async has(key: string): Promise<boolean> {
    return this.live(key) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    this.requireLoaded();
    return keys.map((key) => this.live(key) !== undefined);
  }

  /** `ttl` in ms, as keyv passes it; 0 or absent means no expiry. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    this.requireLoaded();
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text.length > MAX_SECRET_LENGTH)
      throw new GdriveBackupError('secret_too_large', { size: text.length });
    this.data.set(
      key,
      typeof ttl === 'number' && ttl !== 0 ? { value: text, expire: Date.now() + ttl } : { value: text },
    );
    this.record(key, text);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    this.data.delete(key);
    if (existed) this.record(key, null);
    return existed;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    let all = keys.length > 0;
    for (const key of keys) all = (await this.delete(key)) && all;
    return all;
  }

  async clear(): Promise<void> {
    this.requireLoaded();
    const prefix = this.namespace === undefined ? '' : `${this.namespace}:`;
    for (const key of [...this.data.keys()]) if (key.startsWith(prefix)) await this.delete(key);
  }

  async disconnect(): Promise<void> {}

  private record(key: string, value: string | null): void {
    this.version += 1;
    this.journal.set(key, { value, version: this.version });
  }

  private live(key: string): Entry | undefined {
    this.requireLoaded();
    const entry = this.data.get(key);
    if (entry?.expire !== undefined && entry.expire <= Date.now()) {
      this.data.delete(key);
      this.record(key, null);
      return undefined;
    }
    return entry;
  }

  private requireLoaded(): void {
    if (!this.isLoaded) throw new GdriveBackupError('secrets_not_loaded');
  }
}
