// Local failures are the admin's, not Google's: an errno of a local file met while a Drive
// request runs (a full disk, a directory, a handle opened the wrong way) is local_file_error
// with the path and the cause, at once, while the errnos of sockets stay retried network
// faults. Every failure here is a real one of the operating system.
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pacer } from '../../connector/drive/retry.js';
import { GdriveBackupError } from '../../connector/errors/errors.js';
import { canMountTmpfs, type FullDisk, mountFullDisk } from '../helpers/full-disk.js';
import { bytesOf, type DataPathEnv, itemNamed, md5, startDataPath, upload } from './data-path-fixture.js';

const context = { object: 'server', path: '/dumps/backup.tar', localFile: '/var/restore/piece' };

async function underPacer(fn: () => Promise<unknown>): Promise<{ attempts: number; error: unknown }> {
  let attempts = 0;
  const pacer = new Pacer({ maxAttempts: 4, baseMs: 1 });
  const error = await pacer
    .run('files.download', context, async () => {
      attempts++;
      return fn();
    })
    .catch((e: unknown) => e);
  return { attempts, error };
}

describe('local errnos under the Pacer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(process.env.TMPDIR ?? '/tmp', `gdrive-local-errors-${process.pid}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'regular'), 'x');
  });

  it('EISDIR of reading a directory: local_file_error at once, naming the path and the cause', async () => {
    const { attempts, error } = await underPacer(async () => {
      const handle = await open(dir, 'r');
      try {
        await handle.read(Buffer.alloc(10), 0, 10, 0);
      } finally {
        await handle.close();
      }
    });
    expect(attempts).toBe(1);
    expect(error).toBeInstanceOf(GdriveBackupError);
    expect(error).toMatchObject({
      code: 'local_file_error',
      status: 400,
      message: 'The local file "/var/restore/piece" cannot be used: it is a directory (EISDIR).',
    });
  });

  it('EBADF of writing a handle opened for reading', async () => {
    const { attempts, error } = await underPacer(async () => {
      const handle = await open(join(dir, 'regular'), 'r');
      try {
        await handle.write(Buffer.from('y'), 0, 1, 0);
      } finally {
        await handle.close();
      }
    });
    expect(attempts).toBe(1);
    expect(error).toMatchObject({ code: 'local_file_error', params: { path: '/var/restore/piece' } });
    expect((error as Error).message).toContain('EBADF');
  });

  it('an errno that names its own path (a path under a regular file) names that path', async () => {
    const below = join(dir, 'regular', 'below');
    const { attempts, error } = await underPacer(() => readFile(below));
    expect(attempts).toBe(1);
    expect(error).toMatchObject({
      code: 'local_file_error',
      message: `The local file "${below}" cannot be used: a parent of it is not a directory (ENOTDIR).`,
    });
  });

  it('a refused connection stays a network fault: retried, then drive_unavailable', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    const { attempts, error } = await underPacer(() => fetch(`http://127.0.0.1:${port}/`));
    expect(attempts).toBe(4);
    expect(error).toMatchObject({ code: 'drive_unavailable', retryable: true });
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as GdriveBackupError).params).not.toHaveProperty('localFile');
  });
});

describe.runIf(canMountTmpfs)('a restore into a full disk', () => {
  let env: DataPathEnv;
  let disk: FullDisk;
  let content: Buffer;
  let fileId: string;

  beforeAll(async () => {
    env = await startDataPath();
    content = bytesOf(300 * 1024, 9);
    await upload(env, 'restore-me.bin', [content]);
    fileId = itemNamed(env, 'restore-me.bin').id;
    disk = mountFullDisk(env.workDir);
  });
  afterAll(async () => {
    disk?.unmount();
    await env.close();
  });

  it('is local_file_error with the path and ENOSPC, not a Drive error, and the handle reads on', async () => {
    const fd = await env.handles.openRead({
      object: env.object,
      path: '/restore-me.bin',
      fileId,
      size: content.length,
      offset: 0,
      md5: md5(content),
    });
    const full = join(disk.dir, 'restored.bin');
    env.sandbox.resetCounters();
    const error = await env.handles.readFile(fd, full, null).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'local_file_error',
      status: 400,
      message: `The local file "${full}" cannot be used: no space left on the device (ENOSPC).`,
    });
    // One GET: the full disk was not retried as if Drive had failed.
    expect(env.sandbox.counters()['files.download']).toBe(1);
    const out = join(env.workDir, 'restored.bin');
    expect(await env.handles.readFile(fd, out, null)).toBe(content.length);
    expect((await readFile(out)).equals(content)).toBe(true);
    await env.handles.closeRead(fd);
  });
});
