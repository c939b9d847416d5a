/**
 * Confines the HTTP API's `localFile` to the exchange directories (system temp dir and Plesk's
 * dump dir by default): whoever holds the API token must not be able to make the connector (which
 * may run as root before it drops to the data dir's owner) read or overwrite any other file.
 *
 * This is the early check, on paths, so that a request naming a file outside is answered before
 * it waits for its fd: the directory is resolved with realpath (symlinks and `..` resolved by the
 * kernel's rules, not lexically), and a name that is a link pointing outside is refused too. It
 * proves nothing about the moment of use, when a link may have replaced the path: the handle
 * engine opens the file with drive/local-files.ts, which checks the opened file itself (and
 * refuses any link as the last component), given the same directories.
 */
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { inside, realDirs } from '../drive/local-files.js';
import { GdriveBackupError } from '../errors/errors.js';

/**
 * Returns the path with its directory resolved, to hand to the engine (with `exchangeDirs` as
 * its allowed directories), or throws local_file_forbidden / local_file_error.
 */
export async function confineLocalFile(localFile: string, exchangeDirs: string[]): Promise<string> {
  const forbidden = () =>
    new GdriveBackupError('local_file_forbidden', { path: localFile, allowed: exchangeDirs.join(', ') });
  if (!isAbsolute(localFile) || localFile.includes('\0')) throw forbidden();
  const allowed = await realDirs(exchangeDirs);

  const name = basename(localFile);
  let candidate: string;
  try {
    candidate =
      name === '..' || name === '.' || name === ''
        ? await realpath(localFile)
        : join(await realpath(dirname(localFile)), name);
  } catch {
    throw new GdriveBackupError('local_file_error', {
      path: localFile,
      reason: 'its directory does not exist',
    });
  }
  if (!inside(candidate, allowed) || allowed.includes(candidate)) throw forbidden();

  let isLink = false;
  try {
    isLink = (await lstat(candidate)).isSymbolicLink();
  } catch {
    return candidate; // not there yet: fine for a read target; the engine reports a missing source
  }
  if (isLink) {
    // Never followed when opened; one pointing outside is named for what it is.
    const target = await realpath(candidate).catch(() => undefined);
    if (target === undefined || !inside(target, allowed)) throw forbidden();
  }
  return candidate;
}
