/**
 * Replacing a small file so that a crash at any moment leaves either the old or the new content,
 * never a mix, and only the service's user can read it.
 *
 * The new content goes to a temporary file (0600) in the same directory, is fsynced, renamed
 * over the old one, and the directory is fsynced so the rename itself survives a power cut.
 * The directory is created 0700 when missing. A temporary file left by a crash is harmless: it
 * is never read, and its random name keeps it from clashing with a later write.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temporary files of `filename` are named `<name>.<12 hex>.tmp`, beside it. */
export function temporaryNameFor(filename: string): string {
  return join(dirname(filename), `${basename(filename)}.${randomBytes(6).toString('hex')}.tmp`);
}

export async function writeFileAtomic(filename: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(filename);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = temporaryNameFor(filename);
  try {
    const handle = await open(temp, 'wx', 0o600);
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
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
