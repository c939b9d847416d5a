/**
 * Opening the local files of appendFile (a backup piece to upload) and readFile (a restore
 * target to write) so that the file used is the file checked.
 *
 * Checking a path and then opening it leaves a window in which a symbolic link can replace the
 * path (and a second call on the same fd waits on its lock, which widens it): the connector may
 * run as root, so it would upload /etc/shadow or overwrite /etc/passwd. Here nothing is checked
 * by path and then used by path. The Linux way, without openat() (Node has none):
 *  1. The directory is opened (O_DIRECTORY). Symbolic links on the way are followed, which is
 *     harmless: what counts is where the kernel landed.
 *  2. Its real path is asked of the kernel through the descriptor (`readlink /proc/self/fd/N`,
 *     the path of the opened directory, not of the name given) and must lie in an exchange
 *     directory (their real paths too).
 *  3. The file is opened relative to that descriptor: `/proc/self/fd/N/<name>` walks through the
 *     magic link into exactly the directory opened in 1 (as openat(N, name) does), whatever the
 *     path names now. O_NOFOLLOW refuses a link as the last component (ELOOP), O_NONBLOCK keeps
 *     a FIFO from blocking the open (a reader-side open returns at once, a writer-side one fails
 *     with ENXIO), and a restore target is created with O_CREAT but never truncated by the open.
 *  4. fstat of the new descriptor: only a regular file is used (a FIFO, device, socket or
 *     directory is refused at once), and a restore target is truncated and set to 0600 through
 *     the descriptor only after that.
 * The caller reads or writes through the returned FileHandle only.
 *
 * /proc/self/fd stays usable after the service dropped root for the data dir's owner (the
 * process is then not dumpable and /proc/self/fd belongs to root): the kernel lets a process
 * into its own fd directory and links regardless (proc_fd_permission() and
 * proc_fd_access_allowed() in linux fs/proc/fd.c and fs/proc/base.c, same thread group).
 *
 * Hard links are not a way out: with fs.protected_hardlinks (on by default in every mainstream
 * distribution) a user can only link files they own or may read and write. A restore target
 * with more than one link is refused all the same, since writing there changes another name.
 */
import { constants } from 'node:fs';
import { type FileHandle, lstat, open, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, sep } from 'node:path';
import type { AppendOptions } from '../core/types.js';
import { GdriveBackupError, localFileError } from '../errors/errors.js';

const { O_RDONLY, O_RDWR, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;
// Node opens every file close-on-exec already (libuv adds O_CLOEXEC).

/** Where a caller's local files may be: the exchange directories; none given means anywhere. */
export type LocalFileOptions = AppendOptions;

/** A backup piece opened for appendFile. */
export interface LocalSource {
  handle: FileHandle;
  /** Size at open time (fstat of the descriptor). */
  size: number;
}

/**
 * Opens the regular file `path` for reading, never following a link as its last component and
 * never blocking; with `allowedDirs`, its directory must really be inside one of them.
 * local_file_forbidden (outside) or local_file_error (missing, link, not a regular file).
 */
export async function openLocalForAppend(path: string, options: LocalFileOptions = {}): Promise<LocalSource> {
  const handle = await openInConfinedDir(path, options, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notRegular(path, info);
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Creates `path` or opens the existing regular file there, then truncates it and sets mode 0600;
 * the handle reads and writes (a whole-file read is hashed back from it). An existing link is
 * never followed, also not a dangling one; otherwise as openLocalForAppend.
 */
export async function openLocalForRead(path: string, options: LocalFileOptions = {}): Promise<FileHandle> {
  const handle = await openInConfinedDir(path, options, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notRegular(path, info);
    if (info.nlink > 1)
      throw new GdriveBackupError('local_file_error', {
        path,
        reason: 'it has other hard links, and writing it would change them too',
      });
    await handle.truncate(0);
    // An existing file keeps its mode; restored backups are private (unless the file is another
    // user's, which we may write but not chmod: it keeps what its owner chose).
    if ((info.mode & 0o777) !== 0o600) await handle.chmod(0o600).catch(() => undefined);
    return handle;
  } catch (error) {
    await handle.close();
    throw error instanceof GdriveBackupError ? error : localFileError(path, error);
  }
}

/** Steps 1-3 of the header: the file `path` opened with `flags` relative to its checked directory. */
async function openInConfinedDir(
  path: string,
  options: LocalFileOptions,
  flags: number,
  mode?: number,
): Promise<FileHandle> {
  if (!isAbsolute(path) || path.includes('\0'))
    throw options.allowedDirs
      ? forbidden(path, options.allowedDirs)
      : new GdriveBackupError('local_file_error', { path, reason: 'it is not an absolute path' });
  const name = basename(path);
  if (name === '' || name === '.' || name === '..' || path.endsWith(sep))
    throw new GdriveBackupError('local_file_error', { path, reason: 'it is a directory' });

  let dir: FileHandle;
  try {
    dir = await open(dirname(path), O_RDONLY | O_DIRECTORY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new GdriveBackupError('local_file_error', { path, reason: 'its directory does not exist' });
    throw localFileError(path, error);
  }
  try {
    const viaDir = `/proc/self/fd/${dir.fd}`;
    if (options.allowedDirs) {
      let real: string;
      try {
        real = await readlink(viaDir);
      } catch (error) {
        throw new GdriveBackupError(
          'local_file_error',
          { path, reason: 'its directory cannot be checked (is /proc mounted?)' },
          { cause: error },
        );
      }
      if (!inside(real, await realDirs(options.allowedDirs))) throw forbidden(path, options.allowedDirs);
    }
    // A device is not even opened (opening one can act, e.g. rewind a tape); the fstat after the
    // open is what decides, this only spares the open when the answer is clear already.
    const before = await lstat(`${viaDir}/${name}`).catch(() => undefined);
    if (before !== undefined && !before.isFile() && !before.isSymbolicLink()) throw notRegular(path, before);
    try {
      return await open(`${viaDir}/${name}`, flags, mode);
    } catch (error) {
      throw openError(path, error);
    }
  } finally {
    await dir.close();
  }
}

/** The real paths of the configured exchange dirs (also the service's early check). */
export async function realDirs(dirs: readonly string[]): Promise<string[]> {
  const resolved: string[] = [];
  for (const dir of dirs) {
    try {
      resolved.push(await realpath(dir));
    } catch {
      // A configured dir that does not exist here (no Plesk dump dir on a dev box) allows nothing.
    }
  }
  return resolved;
}

/** `real` is one of `dirs` or below one of them. */
export function inside(real: string, dirs: readonly string[]): boolean {
  return dirs.some((dir) => real === dir || real.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`));
}

function forbidden(path: string, allowedDirs: readonly string[]): GdriveBackupError {
  return new GdriveBackupError('local_file_forbidden', { path, allowed: allowedDirs.join(', ') });
}

function openError(path: string, error: unknown): GdriveBackupError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP')
    return new GdriveBackupError(
      'local_file_error',
      { path, reason: 'it is a symbolic link, and links are not followed' },
      { cause: error },
    );
  // A FIFO opened for writing with O_NONBLOCK and no reader.
  if (code === 'ENXIO')
    return new GdriveBackupError(
      'local_file_error',
      { path, reason: 'it is not a regular file' },
      { cause: error },
    );
  return localFileError(path, error);
}

function notRegular(path: string, info: { isDirectory(): boolean }): GdriveBackupError {
  return new GdriveBackupError('local_file_error', {
    path,
    reason: info.isDirectory() ? 'it is a directory' : 'it is not a regular file',
  });
}
