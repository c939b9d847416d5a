/**
 * The embedded keyv store: keyv-file, with its disk writes made durable, crash-safe and private.
 *
 * keyv-file keeps everything in a Map and rewrites its whole JSON file. As shipped it writes in
 * place with the default mode (a connector killed mid-write loses every handle record; other
 * users can read the file), and a set() arriving while a write is under way is answered by
 * that write, whose snapshot predates it. Here:
 *  - a write goes to a temporary file (0600), is fsynced and renamed over the old one;
 *  - a set/delete resolves only once a snapshot taken after it is on disk;
 *  - writes of one tick are coalesced, and disconnect() waits for the last one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyvFile } from 'keyv-file';

/** Writes requested within this many ms share one snapshot. */
const WRITE_DELAY_MS = 5;

export function createFileStore(filename: string): KeyvFile {
  const store = new KeyvFile({ filename, writeDelay: WRITE_DELAY_MS, expiredCheckDelay: 3600_000 });
  // keyv-file's own save()/saveToDisk() are private in its types; these replacements are the
  // only places its on-disk format is produced (the pinned 5.3.5 serialises
  // `{cache: [[key, value]...], lastExpire}` and reads it back in its constructor).
  const internals = store as unknown as {
    _data: Map<string, unknown>;
    _lastExpire: number;
    save: () => Promise<void>;
  };
  let scheduled: Promise<void> | undefined;
  let running: Promise<void> | undefined;
  internals.save = () => {
    scheduled ??= (async () => {
      await sleep(WRITE_DELAY_MS);
      while (running) await running.catch(() => undefined);
      // From here on a new change schedules a new write: this snapshot may predate it.
      scheduled = undefined;
      const text = store.opts.serialize({ cache: [...internals._data], lastExpire: internals._lastExpire });
      running = writeFileAtomic(filename, text);
      try {
        await running;
      } finally {
        running = undefined;
      }
    })();
    return scheduled;
  };
  // keyv-file deletes expired keys from its getters without awaiting the write; a failed
  // write there must not become an unhandled rejection (callers that await still see it).
  const deleteKey = store.delete.bind(store);
  store.delete = (key: string) => {
    const deleted = deleteKey(key);
    deleted.catch(() => undefined);
    return deleted;
  };
  store.disconnect = async () => {
    while (scheduled || running) await (scheduled ?? running)?.catch(() => undefined);
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
