/**
 * The connector's two keyv stores.
 *
 * - state: handle records, OAuth states, account records, folder caches. The embedded file
 *   `<dataDir>/state.json`, or Redis when config.storeUrl is set.
 * - secrets: refresh tokens. `file`: the embedded file `<dataDir>/secrets.json` whose values are
 *   sealed with AES-256-GCM under `<dataDir>/secrets.key`. `client`: memory only, loaded and
 *   persisted by the client that runs the service (the Plesk extension keeps them in Plesk's
 *   encrypted Key-Value Storage; protocol in client-secrets-store.ts).
 *
 * The data dir is made 0700 and every file in it 0600: one user (the service's) owns it.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyv, type KeyvStoreAdapter } from 'keyv';
import type { Config } from '../config/config.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import { ClientSecretsStore } from './client-secrets-store.js';
import { EncryptedStore } from './encrypted-store.js';
import { CorruptStoreFileError, JsonFileStore } from './json-file-store.js';
import { SecretCipher } from './secret-cipher.js';

export interface Stores {
  secrets: Keyv;
  state: Keyv;
  /** The memory store of mode `client`, for the routes that load and drain it. */
  clientSecrets?: ClientSecretsStore;
  close(): Promise<void>;
}

export const STATE_FILE = 'state.json';
export const SECRETS_FILE = 'secrets.json';
export const SECRETS_KEY_FILE = 'secrets.key';

export async function openStores(config: Config, log: Log): Promise<Stores> {
  await ensurePrivateDir(config.dataDir);
  const stateStore: KeyvStoreAdapter = config.storeUrl
    ? await openRedisStore(config.storeUrl)
    : openStateFile(join(config.dataDir, STATE_FILE));
  const clientSecrets = config.secretsStore === 'client' ? new ClientSecretsStore() : undefined;
  const secretsStore = clientSecrets ?? (await openSecretsFile(config));
  const state = new Keyv({ store: stateStore, namespace: 'state', throwOnErrors: true });
  const secrets = new Keyv({ store: secretsStore, namespace: 'secrets', throwOnErrors: true });
  // keyv emits store errors as events as well as throwing them; without a listener an
  // 'error' event would crash the process.
  state.on('error', (error: unknown) => log.error('state store error', { detail: describe(error) }));
  secrets.on('error', (error: unknown) => log.error('secrets store error', { detail: describe(error) }));
  return {
    state,
    secrets,
    ...(clientSecrets ? { clientSecrets } : {}),
    async close() {
      await Promise.allSettled([state.disconnect(), secrets.disconnect()]);
    },
  };
}

/** Loaded only when asked for: the Redis client is sizeable and most installs never use it. */
async function openRedisStore(url: string): Promise<KeyvStoreAdapter> {
  const { default: KeyvRedis } = await import('@keyv/redis');
  const store = new KeyvRedis(url, {
    throwOnConnectError: true,
    throwOnErrors: true,
    connectionTimeout: 5000,
  });
  try {
    // Connect now: an unreachable Redis must stop start-up with a sentence, not hang a backup.
    await store.getClient();
  } catch (error) {
    await store.disconnect().catch(() => undefined);
    throw new GdriveBackupError('state_unavailable', { detail: describe(error) });
  }
  // KeyvRedis<T> is generic over its value type; keyv's adapter type fixes none.
  return store as unknown as KeyvStoreAdapter;
}

/** A damaged state.json stops start-up with a sentence; it is never replaced by an empty one. */
function openStateFile(filename: string): JsonFileStore {
  try {
    return new JsonFileStore(filename);
  } catch (error) {
    if (error instanceof CorruptStoreFileError)
      throw new GdriveBackupError(
        'state_damaged',
        { file: filename, reason: error.reason },
        { cause: error },
      );
    throw new GdriveBackupError('state_unavailable', { detail: describe(error) }, { cause: error });
  }
}

async function openSecretsFile(config: Config): Promise<KeyvStoreAdapter> {
  try {
    const cipher = await SecretCipher.fromKeyFile(join(config.dataDir, SECRETS_KEY_FILE));
    return new EncryptedStore(new JsonFileStore(join(config.dataDir, SECRETS_FILE)), cipher);
  } catch (error) {
    throw new GdriveBackupError('secrets_unavailable', { detail: describe(error) });
  }
}

/** Makes the data dir (0700); an existing one is tightened to 0700 when we own it. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await chmod(dir, 0o700);
  } catch {
    // Not ours to change (e.g. a shared test dir); the files inside stay 0600 regardless.
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
