/**
 * The kept tail of an upload: bytes appended but not yet sent to Drive.
 *
 * Every resumable PUT but the last must be a multiple of 256 KiB, and Plesk appends pieces of
 * any size, so after each appendFile the unaligned remainder (1 byte to 256 KiB: at least one
 * byte is held back so that the last request can carry the total) waits on disk for the next
 * call: a restarted connector picks it up from here. Records of older versions may name a tail
 * of up to one chunk; it is read the same way.
 *
 * Layout: `<dataDir>/spool/<fd>/tail-<start>`, where <start> is the upload offset of the tail's
 * first byte. The name carries the offset so that a crash between writing a new tail and
 * persisting the handle record never pairs a record with the wrong bytes: the record names the
 * offset it expects, and a file for another offset is simply ignored (and pruned later).
 */
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GdriveBackupError } from '../errors/errors.js';
import { writeFileAtomic } from '../store/atomic-file.js';

export function spoolRoot(dataDir: string): string {
  return join(dataDir, 'spool');
}

export function spoolDir(dataDir: string, fd: string): string {
  return join(spoolRoot(dataDir), fd);
}

function tailFile(dataDir: string, fd: string, start: number): string {
  return join(spoolDir(dataDir, fd), `tail-${start}`);
}

/**
 * Atomically replaces the tail that starts at `start` (atomic-file.ts: temp file, fsync, rename,
 * directory fsync, so the tail is on disk before the record that names it is saved).
 */
export async function writeTail(
  dataDir: string,
  fd: string,
  start: number,
  bytes: Uint8Array,
): Promise<void> {
  await writeFileAtomic(tailFile(dataDir, fd, start), bytes);
}

/** The `length` bytes of the tail starting at `start`, read into `into` (of that length) or a buffer of their own. */
export async function readTail(
  dataDir: string,
  fd: string,
  start: number,
  length: number,
  into: Buffer = Buffer.alloc(length),
): Promise<Buffer> {
  if (into.length !== length)
    throw new GdriveBackupError('internal', { detail: `a tail of ${length} bytes read into ${into.length}` });
  if (length === 0) return into;
  const file = tailFile(dataDir, fd, start);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new GdriveBackupError('internal', {
      detail: `the kept tail of handle ${fd} is missing (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    });
  }
  try {
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(into, read, length - read, read);
      if (bytesRead === 0)
        throw new GdriveBackupError('internal', {
          detail: `the kept tail of handle ${fd} is shorter than recorded`,
        });
      read += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return into;
}

/** Removes tails of `fd` other than the one starting at `keepStart` (left by earlier calls). */
export async function pruneTails(dataDir: string, fd: string, keepStart: number | null): Promise<void> {
  let names: string[];
  try {
    names = await readdir(spoolDir(dataDir, fd));
  } catch {
    return;
  }
  const keep = keepStart === null ? null : `tail-${keepStart}`;
  await Promise.all(
    names.filter((n) => n !== keep).map((n) => rm(join(spoolDir(dataDir, fd), n), { force: true })),
  );
}

export async function removeSpool(dataDir: string, fd: string): Promise<void> {
  await rm(spoolDir(dataDir, fd), { recursive: true, force: true });
}

/** Handles that have a spool directory, with its last modification time. */
export async function listSpools(dataDir: string): Promise<Array<{ fd: string; mtimeMs: number }>> {
  let names: string[];
  try {
    names = await readdir(spoolRoot(dataDir));
  } catch {
    return [];
  }
  const found: Array<{ fd: string; mtimeMs: number }> = [];
  for (const name of names) {
    try {
      const info = await stat(join(spoolRoot(dataDir), name));
      if (info.isDirectory()) found.push({ fd: name, mtimeMs: info.mtimeMs });
    } catch {
      // Removed meanwhile by another call: nothing to list.
    }
  }
  return found;
}
