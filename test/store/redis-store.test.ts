// GDRIVE_BACKUP_STORE_URL=redis://...: the state store on a real Redis server, through the same
// conformance suite as the embedded store, and a connector whose handles live there.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import { isGdriveBackupError } from '../../connector/errors/errors.js';
import { silentLog } from '../../connector/log.js';
import { openStores, STATE_FILE } from '../../connector/store/stores.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { sha256File, startTestEnv, writeLocalFile } from '../helpers/test-env.js';
import { runStoreConformance } from './store-conformance.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

async function redisStores() {
  const dataDir = await mkdtemp(join(tmpdir(), 'gdrive-redis-data-'));
  const config = loadConfig({
    env: { GDRIVE_BACKUP_DATA_DIR: dataDir, GDRIVE_BACKUP_STORE_URL: redis.url },
    readFile: false,
  });
  return { dataDir, stores: await openStores(config, silentLog) };
}

runStoreConformance('Redis state store', async () => {
  await redis.flushAll();
  const { dataDir, stores } = await redisStores();
  const extra: Array<() => Promise<void>> = [];
  return {
    store: stores.state.store,
    async reopen() {
      const next = await redisStores();
      extra.push(async () => {
        await next.stores.close();
        await rm(next.dataDir, { recursive: true, force: true });
      });
      return next.stores.state.store;
    },
    async cleanup() {
      await stores.close();
      for (const close of extra) await close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

describe('a connector on Redis', () => {
  it('keeps its handles and caches in Redis, not in state.json, across a restart', async () => {
    const env = await startTestEnv({ config: { storeUrl: redis.url, chunkSize: 256 * 1024 } });
    try {
      await env.transport.createDir('/2611270700');
      const fd = await env.transport.openFileWrite('/2611270700/backup.tar');
      const first = await writeLocalFile(env.tmpDir, 'one', Buffer.alloc(300 * 1024, 7));
      expect(await env.connector.appendFile(fd, first)).toBe(300 * 1024);
      await env.reopen();
      const second = await writeLocalFile(env.tmpDir, 'two', Buffer.alloc(100 * 1024, 9));
      expect(await env.connector.appendFile(fd, second)).toBe(100 * 1024);
      const written = await env.connector.closeWrite(fd);
      expect(written.size).toBe(400 * 1024);
      expect(existsSync(join(env.dataDir, STATE_FILE))).toBe(false);

      const readFd = await env.transport.openFileRead('/2611270700/backup.tar', 0);
      const target = join(env.tmpDir, 'restored');
      expect(await env.connector.readFile(readFd, target, null)).toBe(400 * 1024);
      await env.connector.closeRead(readFd);
      expect(await sha256File(target)).toBe(written.sha256);
    } finally {
      await env.close();
    }
  });

  it('stops start-up with state_unavailable when Redis cannot be reached', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gdrive-redis-data-'));
    try {
      const config = loadConfig({
        env: {
          GDRIVE_BACKUP_DATA_DIR: dataDir,
          GDRIVE_BACKUP_STORE_URL: `redis://127.0.0.1:${redis.port + 1}`,
        },
        readFile: false,
      });
      const error = await openStores(config, silentLog).catch((e: unknown) => e);
      expect(isGdriveBackupError(error, 'state_unavailable')).toBe(true);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
