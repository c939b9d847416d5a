/**
 * One process owns a data dir at a time: its state and secrets files are rewritten whole by
 * their owner, so a second writer would silently lose the first one's records. The lock is
 * proper-lockfile's `<dataDir>.lock` directory (mkdir is atomic, and a stale lock left by a
 * killed process is taken over once its mtime stops being refreshed).
 */
import { mkdir } from 'node:fs/promises';
import lockfile from 'proper-lockfile';
import { GdriveBackupError } from './errors/errors.js';
import type { Log } from './log.js';

export interface DataDirLock {
  release(): Promise<void>;
}

/** A lock not refreshed for this long belongs to a dead process. */
const STALE_MS = 15_000;

export async function lockDataDir(dataDir: string, log: Log): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dataDir, {
      stale: STALE_MS,
      realpath: true,
      // A lock we cannot refresh any more (disk gone, dir removed) must not kill the service;
      // the next start takes over the stale lock.
      onCompromised: (error) => log.error('data dir lock compromised', { dataDir, detail: error.message }),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new GdriveBackupError('data_dir_locked', { dataDir });
    }
    throw error;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await release();
      } catch (error) {
        log.warn('data dir lock release failed', { dataDir, detail: (error as Error).message });
      }
    },
  };
}
