import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyv } from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import { silentLog } from '../../connector/log.js';
import { EncryptedStore } from '../../connector/store/encrypted-store.js';
import { JsonFileStore } from '../../connector/store/json-file-store.js';
import { SecretCipher } from '../../connector/store/secret-cipher.js';
import { openStores } from '../../connector/store/stores.js';
import { runStoreConformance } from '../store/store-conformance.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'gdrive-store-test-'));
}

// The plain file store's conformance run is in test/store/json-file-store.test.ts.
runStoreConformance('encrypted secrets store (secrets.json)', async () => {
  const dir = await tempDir();
  const file = join(dir, 'secrets.json');
  const keyFile = join(dir, 'secrets.key');
  const open = async () =>
    new EncryptedStore(new JsonFileStore(file), await SecretCipher.fromKeyFile(keyFile));
  return {
    store: await open(),
    reopen: open,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('encrypted secrets store', () => {
  it("clears only its keyv namespace's keys in the file it shares", async () => {
    const dir = await tempDir();
    try {
      const inner = new JsonFileStore(join(dir, 'secrets.json'));
      const sealed = new EncryptedStore(inner, await SecretCipher.fromKeyFile(join(dir, 'secrets.key')));
      const secrets = new Keyv({ store: sealed, namespace: 'secrets', throwOnErrors: true });
      await secrets.set('refresh-token:server', 'token');
      await inner.set('elsewhere:key', 'kept');
      await secrets.clear();
      expect(await secrets.get('refresh-token:server')).toBeUndefined();
      expect(await inner.get('elsewhere:key')).toBe('kept');
      await inner.disconnect();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('stores on disk', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function openIn(dataDir: string) {
    const config = loadConfig({ env: { GDRIVE_BACKUP_DATA_DIR: dataDir }, readFile: false });
    return openStores(config, silentLog);
  }

  it('makes the data dir 0700 and every file 0600, with a 32-byte key', async () => {
    const parent = await tempDir();
    dirs.push(parent);
    const dataDir = join(parent, 'data');
    const stores = await openIn(dataDir);
    await stores.state.set('a', 1);
    await stores.secrets.set('refresh-token:server', 'token');
    await stores.close();
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    for (const name of ['state.json', 'secrets.json', 'secrets.key']) {
      expect((await stat(join(dataDir, name))).mode & 0o777, name).toBe(0o600);
    }
    expect((await readFile(join(dataDir, 'secrets.key'))).length).toBe(32);
    // Atomic writes leave no temporary files behind.
    expect((await readdir(dataDir)).sort()).toEqual(['secrets.json', 'secrets.key', 'state.json']);
  });

  it('never writes a secret in plain text, and uses a fresh IV per value', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const secret = `1//refresh-${randomBytes(24).toString('base64url')}`;
    const stores = await openIn(dataDir);
    await stores.secrets.set('refresh-token:server', secret);
    await stores.secrets.set('refresh-token:subscription:1', secret);
    await stores.close();
    const text = await readFile(join(dataDir, 'secrets.json'), 'utf8');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.slice(10, 30));
    const sealed = [...text.matchAll(/v1\.[\w-]+\.[\w-]+\.[\w-]+/g)].map((m) => m[0]);
    expect(sealed).toHaveLength(2);
    expect(sealed[0]).not.toBe(sealed[1]);
    const again = await openIn(dataDir);
    expect(await again.secrets.get('refresh-token:server')).toBe(secret);
    await again.close();
  });

  it('refuses a tampered value (GCM tag) and a value sealed under another key', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const stores = await openIn(dataDir);
    await stores.secrets.set('refresh-token:server', 'secret-value');
    await stores.close();
    const file = join(dataDir, 'secrets.json');
    const text = await readFile(file, 'utf8');
    const tampered = text.replace(/(v1\.[\w-]+\.[\w-]+\.)([\w-])/, (_, head: string, first: string) => {
      return head + (first === 'A' ? 'B' : 'A');
    });
    expect(tampered).not.toBe(text);
    await writeFile(file, tampered);
    const broken = await openIn(dataDir);
    await expect(broken.secrets.get('refresh-token:server')).rejects.toThrow(/unable to authenticate|auth/i);
    await broken.close();

    const other = SecretCipher.fromKey(randomBytes(32));
    const mine = SecretCipher.fromKey(randomBytes(32));
    expect(() => other.open(mine.seal('x'))).toThrow();
    expect(mine.open(mine.seal('ключ'))).toBe('ключ');
  });

  it('resolves a set only once it is on disk, even while other writes are under way', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const stores = await openIn(dataDir);
    const noise: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 5; j++) noise.push(stores.state.set(`noise-${i}-${j}`, { i, j }));
      // Land the probe at varying moments of the noise's write (timer, write, fsync, rename).
      await sleep(4 + (i % 6));
      await stores.state.set('probe', i);
      const file = JSON.parse(await readFile(join(dataDir, 'state.json'), 'utf8')) as {
        cache: Array<[string, { value: string }]>;
      };
      const probe = file.cache.find(([key]) => key === 'state:probe');
      expect(probe && (JSON.parse(probe[1].value) as { value: number }).value).toBe(i);
    }
    await Promise.all(noise);
    await stores.close();
  });

  it('stops with state_unavailable when the configured Redis cannot be reached', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const config = loadConfig({
      env: { GDRIVE_BACKUP_DATA_DIR: dataDir, GDRIVE_BACKUP_STORE_URL: 'redis://127.0.0.1:1' },
      readFile: false,
    });
    await expect(openStores(config, silentLog)).rejects.toMatchObject({
      code: 'state_unavailable',
      message: expect.stringContaining('check GDRIVE_BACKUP_STORE_URL and that Redis is running'),
    });
  });

  it('keeps state.json whole: it is replaced, never rewritten in place', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    const stores = await openIn(dataDir);
    await stores.state.set('record', { offset: 1 });
    const before = (await stat(join(dataDir, 'state.json'))).ino;
    await stores.state.set('record', { offset: 2 });
    const after = (await stat(join(dataDir, 'state.json'))).ino;
    expect(after).not.toBe(before);
    await stores.close();
    const again = await openIn(dataDir);
    expect(await again.state.get('record')).toEqual({ offset: 2 });
    await again.close();
  });
});
