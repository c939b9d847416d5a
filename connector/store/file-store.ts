/**
 * The embedded keyv store: keyv-file, with its disk write made crash-safe and private.
 *
 * keyv-file rewrites its whole JSON file in place with the default mode. A connector killed
 * mid-write would then lose every handle record and cache, and other users could read the
 * file. Here the write goes to a temporary file (0600) that is fsynced and renamed over the
 * old one, so the file on disk is always a whole, private snapshot.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KeyvFile } from 'keyv-file';

/** Coalesces the writes of one tick; a set resolves once its snapshot is on disk. */
const WRITE_DELAY_MS = 5;

export function createFileStore(filename: string): KeyvFile {
  const store = new KeyvFile({ filename, writeDelay: WRITE_DELAY_MS, expiredCheckDelay: 3600_000 });
  // saveToDisk is private in keyv-file's types; replacing it is the one place its on-disk
  // format is produced (the pinned 5.3.5 serialises `{cache: [[key, value]...], lastExpire}`).
  const internals = store as unknown as {
    _data: Map<string, unknown>;
    _lastExpire: number;
    saveToDisk: () => Promise<void>;
  };
  internals.saveToDisk = async () => {
    const text = store.opts.serialize({ cache: [...internals._data], lastExpire: internals._lastExpire });
    await writeFileAtomic(filename, text);
  };
  return store;
}

export async function writeFileAtomic(filename: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(filename), { recursive: true, mode: 0o700 });
  const temp = `${filename}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, filename);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
