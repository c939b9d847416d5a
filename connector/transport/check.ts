/**
 * check(): the probe Plesk runs before every backup. It does, on the real folder, what a backup
 * and a restore do: make a folder, write a small file in two appends, stat it (size + md5),
 * read it back, list, delete the file and the folder. Every failure becomes the catalogue's
 * sentence for the admin; low free space is a warning.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertClientConfigured } from '../auth/oauth-client.js';
import type { Config } from '../config/config.js';
import { formatObjectRef } from '../core/object-ref.js';
import type { CheckResult } from '../core/types.js';
import { GdriveBackupError, toGdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import type { ObjectTransport } from './object-transport.js';

const PROBE_PART_BYTES = 1000;

export async function runCheck(transport: ObjectTransport, config: Config, log: Log): Promise<CheckResult> {
  const result: CheckResult = { errors: [], warnings: [] };
  const object = formatObjectRef(transport.object);
  try {
    assertClientConfigured(config);
    if (!(await transport.isConfigured())) throw new GdriveBackupError('not_connected', { object });
  } catch (error) {
    result.errors.push(toGdriveBackupError(error).message);
    return result;
  }
  try {
    const quota = await transport.getQuota();
    if ('free' in quota && quota.free < config.lowQuotaBytes) {
      result.warnings.push(
        new GdriveBackupError('low_quota', {
          object,
          free: formatBytes(quota.free),
          threshold: formatBytes(config.lowQuotaBytes),
        }).message,
      );
    }
    await probe(transport, object, log);
  } catch (error) {
    const failure = toGdriveBackupError(error);
    log.warn('check failed', { object, code: failure.code });
    result.errors.push(failure.message);
  }
  return result;
}

async function probe(transport: ObjectTransport, object: string, log: Log): Promise<void> {
  const engine = transport.engine;
  const dir = `/.gdrive-backup-check-${randomBytes(6).toString('hex')}`;
  const file = `${dir}/probe.bin`;
  const local = await mkdtemp(join(tmpdir(), 'gdrive-backup-check-'));
  const parts = [randomBytes(PROBE_PART_BYTES), randomBytes(PROBE_PART_BYTES + 17)];
  const whole = Buffer.concat(parts);
  const md5 = createHash('md5').update(whole).digest('hex');
  const mismatch = (detail: string) => new GdriveBackupError('verification_failed', { path: file, detail });
  let made = false;
  try {
    await transport.createDir(dir);
    made = true;
    const fd = await transport.openFileWrite(file);
    for (const [i, part] of parts.entries()) {
      const piece = join(local, `part${i}`);
      await writeFile(piece, part, { mode: 0o600 });
      await engine.appendFile(fd, piece);
    }
    const written = await engine.closeWrite(fd);
    if (written.size !== whole.length || written.md5 !== md5) throw mismatch('the upload answer differs');

    const entry = await transport.stat(file);
    if (!entry || entry.isDir || entry.size !== whole.length) throw mismatch('stat shows another size');
    if (entry.hash !== md5) throw mismatch('stat shows another md5');

    const readFd = await transport.openFileRead(file, 0);
    const back = join(local, 'back');
    try {
      await engine.readFile(readFd, back, null);
    } finally {
      await engine.closeRead(readFd);
    }
    if (!whole.equals(await readFile(back))) throw mismatch('the bytes read back differ');

    const listing = await transport.listDir(dir);
    if (!listing.some((e) => e.name === 'probe.bin' && !e.isDir))
      throw mismatch('the listing lacks the file');

    await transport.deleteFile(file);
    await transport.deleteDir(dir);
    made = false;
  } finally {
    if (made) {
      await transport.deleteDir(dir).catch((error: unknown) =>
        log.warn('check could not remove its probe folder', {
          object,
          path: dir,
          code: toGdriveBackupError(error).code,
        }),
      );
    }
    await rm(local, { recursive: true, force: true });
  }
}

function formatBytes(bytes: number): string {
  const gib = bytes / 1024 ** 3;
  if (gib >= 1) return `${gib.toFixed(1)} GiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
