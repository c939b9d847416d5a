/**
 * Confines the HTTP API's `localFile` to the exchange directories (system temp dir and Plesk's
 * dump dir by default): whoever holds the API token must not be able to make the connector (which
 * may run as root before it drops to the data dir's owner) read or overwrite any other file.
 *
 * The check runs on real paths: the directory is resolved with realpath (symlinks and `..`
 * resolved by the kernel's rules, not lexically), and an existing file that is itself a symlink
 * must point inside too. For reads into a local file the file may not exist yet, so only its
 * directory is required to exist.
 */
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import { GdriveBackupError } from '../errors/errors.js';

async function realDirs(dirs: string[]): Promise<string[]> {
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

function inside(path: string, dirs: string[]): boolean {
  return dirs.some((dir) => path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`));
}

/** Returns the resolved path to hand to the connector, or throws local_file_forbidden / local_file_error. */
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
  if (!inside(candidate, allowed)) throw forbidden();

  let isLink = false;
  try {
    isLink = (await lstat(candidate)).isSymbolicLink();
  } catch {
    return candidate; // not there yet: fine for a read target; the engine reports a missing source
  }
  if (isLink) {
    let target: string;
    try {
      target = await realpath(candidate);
    } catch {
      throw new GdriveBackupError('local_file_error', {
        path: localFile,
        reason: 'it is a dangling symbolic link',
      });
    }
    if (!inside(target, allowed)) throw forbidden();
    return target;
  }
  return candidate;
}
