/**
 * One process owns a data dir at a time: its state and secrets files are rewritten whole by
 * their owner, so a second writer would silently lose the first one's records.
 *
 * The lock is proper-lockfile's lock directory, kept inside the data dir (its parent may not
 * be writable by the service's user). proper-lockfile only calls a lock stale once its mtime
 * has not been refreshed for `stale` ms; a connector killed with SIGKILL and started again at
 * once would wait that long. So the owner's pid and host are written beside the lock, and a
 * lock whose owner process is gone from this host is taken over at once.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { GdriveBackupError } from './errors/errors.js';
import type { Log } from './log.js';
import { ensurePrivateDir } from './store/stores.js';

export interface DataDirLock {
  release(): Promise<void>;
}

/** A lock not refreshed for this long belongs to a dead process (or a frozen machine). */
const STALE_MS = 15_000;
export const LOCK_DIR = 'lock';
export const LOCK_OWNER_FILE = 'lock.owner';

interface LockOwner {
  pid: number;
  host: string;
}

export async function lockDataDir(dataDir: string, log: Log): Promise<DataDirLock> {
  await ensurePrivateDir(dataDir);
  const options = {
    stale: STALE_MS,
    realpath: false,
    lockfilePath: join(dataDir, LOCK_DIR),
    // A lock we cannot refresh any more (disk gone, dir removed) must not kill the service;
    // the next start takes it over as stale.
    onCompromised: (error: Error) =>
      log.error('data dir lock compromised', { dataDir, detail: error.message }),
  };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dataDir, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    if (!(await ownerIsGone(dataDir))) throw new GdriveBackupError('data_dir_locked', { dataDir });
    log.warn('taking over the data dir lock of a process that is gone', { dataDir });
    await rm(options.lockfilePath, { recursive: true, force: true });
    try {
      release = await lockfile.lock(dataDir, options);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === 'ELOCKED')
        throw new GdriveBackupError('data_dir_locked', { dataDir });
      throw again;
    }
  }
  const owner: LockOwner = { pid: process.pid, host: hostname() };
  await writeFile(join(dataDir, LOCK_OWNER_FILE), JSON.stringify(owner), { mode: 0o600 });
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await rm(join(dataDir, LOCK_OWNER_FILE), { force: true });
        await release();
      } catch (error) {
        log.warn('data dir lock release failed', { dataDir, detail: (error as Error).message });
      }
    },
  };
}

/** True only when the recorded owner was a process of this host that no longer exists. */
async function ownerIsGone(dataDir: string): Promise<boolean> {
  let owner: Partial<LockOwner>;
  try {
    owner = JSON.parse(await readFile(join(dataDir, LOCK_OWNER_FILE), 'utf8')) as Partial<LockOwner>;
  } catch {
    return false; // being written right now, or an older version's lock: wait for staleness
  }
  if (owner.host !== hostname() || typeof owner.pid !== 'number' || owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
