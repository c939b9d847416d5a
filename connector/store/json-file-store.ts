/**
 * The embedded keyv store: every key in a Map, the whole Map in one JSON file.
 *
 * The file is read once, when the store is made; every change then rewrites it atomically
 * (atomic-file.ts: temporary file 0600, fsync, rename, directory 0700), so a connector killed
 * mid-write keeps the previous file whole. A set/delete/clear resolves only once a snapshot
 * taken after it is on disk; the changes of one event-loop turn share one write, and changes
 * made while a write runs share the next one. disconnect() waits for the last write. A failed
 * write rejects the calls it answers; their changes stay in memory and go out with the next one.
 *
 * A file that cannot be read or parsed stops the store with a CorruptStoreFileError and is left
 * as it is: starting empty over it would silently drop every handle record or refresh token.
 *
 * Expiry: keyv puts its own `expires` inside the serialized value and checks it on get, but it
 * answers has() from the adapter alone, so the adapter keeps the ttl it is given as an absolute
 * `expire` and never answers with an expired entry. Expired entries are dropped from the next
 * snapshot; no write is made only to drop them.
 *
 * The file format is keyv-file's (`{"cache": [[key, {"value", "expire"?}], ...]}`), which this
 * store replaces, so the state.json/secrets.json of an existing data dir read back unchanged.
 * One process owns a data dir (data-dir-lock.ts); two stores on one file would overwrite
 * each other's changes.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import { writeFileAtomic } from './atomic-file.js';

interface Entry {
  /** What keyv handed to set(): its serialized `{value, expires}` string. */
  value: unknown;
  /** Absolute expiry in ms since the epoch; absent when the entry does not expire. */
  expire?: number;
}

export class CorruptStoreFileError extends Error {
  constructor(
    readonly filename: string,
    readonly reason: string,
  ) {
    super(`${filename} is damaged (${reason}); it is left untouched: restore it or move it aside`);
    this.name = 'CorruptStoreFileError';
  }
}

export class JsonFileStore extends EventEmitter implements KeyvStoreAdapter {
  readonly opts: { dialect: 'json-file'; filename: string };
  /** Set by keyv to its own namespace; clear() removes only the keys under it. */
  namespace?: string;
  private readonly data: Map<string, Entry>;
  /** The next write, not started yet: changes made now are in its snapshot. */
  private scheduled: Promise<void> | undefined;
  /** The write under way: its snapshot may predate the latest changes. */
  private running: Promise<void> | undefined;

  constructor(readonly filename: string) {
    super();
    this.opts = { dialect: 'json-file', filename };
    this.data = readStoreFile(filename);
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return this.live(key)?.value as StoredData<Value> | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    return keys.map((key) => this.live(key)?.value as StoredData<Value | undefined>);
  }

  async has(key: string): Promise<boolean> {
    return this.live(key) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return keys.map((key) => this.live(key) !== undefined);
  }

  /** `ttl` in ms, as keyv passes it; 0 or absent means no expiry. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    this.data.set(
      key,
      typeof ttl === 'number' && ttl !== 0 ? { value, expire: Date.now() + ttl } : { value },
    );
    await this.save();
    return true;
  }

  /** True when the key was there (and not expired). */
  async delete(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    this.data.delete(key);
    await this.saveIf(existed);
    return existed;
  }

  /** True when every key was there, as keyv's own fallback for adapters without deleteMany. */
  async deleteMany(keys: string[]): Promise<boolean> {
    let all = true;
    let any = false;
    for (const key of keys) {
      const existed = this.live(key) !== undefined;
      this.data.delete(key);
      all &&= existed;
      any ||= existed;
    }
    await this.saveIf(any);
    return all && keys.length > 0;
  }

  /** Removes the keys of this store's namespace, or every key when it has none. */
  async clear(): Promise<void> {
    const before = this.data.size;
    if (this.namespace === undefined) {
      this.data.clear();
    } else {
      const prefix = `${this.namespace}:`;
      for (const key of this.data.keys()) if (key.startsWith(prefix)) this.data.delete(key);
    }
    await this.saveIf(this.data.size !== before);
  }

  /** Waits until every change made so far is on disk (or its write has failed). */
  async disconnect(): Promise<void> {
    while (this.scheduled || this.running) await (this.scheduled ?? this.running)?.catch(() => undefined);
  }

  /** The entry for key unless it has expired (an expired one is forgotten). */
  private live(key: string): Entry | undefined {
    const entry = this.data.get(key);
    if (entry?.expire !== undefined && entry.expire <= Date.now()) {
      this.data.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Nothing changed needs no write of its own, but a write still pending may hold the key this
   * call found absent: the caller must not hear back before that write has landed either.
   */
  private async saveIf(changed: boolean): Promise<void> {
    if (changed || this.scheduled || this.running) await this.save();
  }

  private save(): Promise<void> {
    this.scheduled ??= (async () => {
      // Let the other changes of this turn join the snapshot.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.running) await this.running.catch(() => undefined);
      // From here on a change schedules a new write: this snapshot may predate it.
      this.scheduled = undefined;
      const write = writeFileAtomic(this.filename, this.snapshot());
      this.running = write;
      try {
        await write;
      } finally {
        if (this.running === write) this.running = undefined;
      }
    })();
    return this.scheduled;
  }

  private snapshot(): string {
    const now = Date.now();
    const cache: Array<[string, Entry]> = [];
    for (const [key, entry] of this.data) {
      if (entry.expire !== undefined && entry.expire <= now) this.data.delete(key);
      else cache.push([key, entry]);
    }
    return JSON.stringify({ cache });
  }
}

/** The file's entries; an absent file is an empty store, anything unreadable an error. */
function readStoreFile(filename: string): Map<string, Entry> {
  let text: string;
  try {
    text = readFileSync(filename, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new CorruptStoreFileError(
      filename,
      `cannot be read: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which may hold secrets: it is not passed on.
    throw new CorruptStoreFileError(filename, text.trim() === '' ? 'empty' : 'not valid JSON');
  }
  const cache = (parsed as { cache?: unknown } | null)?.cache;
  if (!Array.isArray(cache)) throw new CorruptStoreFileError(filename, 'no "cache" list');
  const data = new Map<string, Entry>();
  for (const item of cache) {
    if (!isEntry(item)) throw new CorruptStoreFileError(filename, 'an entry is not [key, {value, expire}]');
    const [key, { value, expire }] = item;
    data.set(key, typeof expire === 'number' ? { value, expire } : { value });
  }
  return data;
}

function isEntry(item: unknown): item is [string, { value: unknown; expire?: number | null }] {
  if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string') return false;
  const entry: unknown = item[1];
  if (typeof entry !== 'object' || entry === null || !('value' in entry)) return false;
  const expire = (entry as { expire?: unknown }).expire;
  return expire === undefined || expire === null || typeof expire === 'number';
}
