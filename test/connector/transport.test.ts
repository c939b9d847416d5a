import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { md5File, putFile, startTestEnv, type TestEnv, writeLocalFile } from '../helpers/test-env.js';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

function liveNamed(env: TestEnv, name: string) {
  return env.sandbox.items().filter((item) => item.name === name && !item.trashed);
}

describe('object transport', () => {
  it('stats the root, files, folders and absent paths', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/dumps');
    const written = await putFile(env, '/dumps/info.xml', '<info/>');
    expect(await env.transport.stat('/')).toEqual({ name: '', size: 0, isDir: true });
    expect(await env.transport.stat('/dumps')).toEqual({ name: 'dumps', size: 0, isDir: true });
    expect(await env.transport.stat('dumps/info.xml/')).toEqual({
      name: 'info.xml',
      size: 7,
      isDir: false,
      hash: written.md5,
    });
    expect(await env.transport.stat('/dumps/absent')).toBeNull();
    expect(await env.transport.stat('/absent/deeper/file')).toBeNull();
    expect(await env.transport.stat('/dumps/info.xml/below-a-file')).toBeNull();
    expect(env.transport.getHash()).toEqual({ type: 'md5', blockSize: 0 });
  });

  it('answers N stats in an existing folder with N look-ups and nothing else', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/dumps');
    for (const name of ['a', 'b', 'c']) await putFile(env, `/dumps/${name}.tar`, name);
    env.sandbox.resetCounters();
    for (let i = 0; i < 20; i++) await env.transport.stat(`/dumps/${'abcde'[i % 5]}.tar`);
    const counters = Object.fromEntries(Object.entries(env.sandbox.counters()).filter(([, n]) => n > 0));
    expect(counters).toEqual({ 'files.list': 20 });
  });

  it('spends no files.get on what it made while Drive lists it (the lag check costs nothing then)', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/dumps');
    env.sandbox.resetCounters();
    await putFile(env, '/dumps/a.tar', 'a');
    await putFile(env, '/dumps/a.tar', 'a again');
    await putFile(env, '/dumps/b.tar', 'b');
    expect(await env.transport.stat('/dumps/a.tar')).toMatchObject({ size: 7 });
    expect(await env.transport.listDir('/dumps')).toHaveLength(2);
    await env.transport.deleteFile('/dumps/b.tar');
    expect(await env.transport.stat('/dumps/b.tar')).toBeNull();
    expect(env.sandbox.counters()['files.get']).toBe(0);
  });

  it('lists with md5 hashes and refuses absent folders and files', async () => {
    env = await startTestEnv();
    expect(await env.transport.listDir('/')).toEqual([]);
    await env.transport.createDir('/d/sub');
    const written = await putFile(env, '/d/f.bin', Buffer.alloc(1000, 7));
    expect(await md5File(await writeLocalFile(env.tmpDir, 'same', Buffer.alloc(1000, 7)))).toBe(written.md5);
    const listing = await env.transport.listDir('/d');
    expect(listing.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'f.bin', size: 1000, isDir: false, hash: written.md5 },
      { name: 'sub', size: 0, isDir: true },
    ]);
    await expect(env.transport.listDir('/nothing')).rejects.toMatchObject({ code: 'not_found' });
    await expect(env.transport.listDir('/d/f.bin')).rejects.toMatchObject({
      code: 'not_a_directory',
      message: '"/d/f.bin" is a file, not a directory.',
    });
    await expect(env.transport.createDir('/d/f.bin/x')).rejects.toMatchObject({ code: 'not_a_directory' });
  });

  it('deletes files and folders, with the right refusals', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/d/sub');
    await putFile(env, '/d/sub/f.bin', 'x');
    await expect(env.transport.deleteFile('/d/sub')).rejects.toMatchObject({ code: 'is_a_directory' });
    await expect(env.transport.deleteFile('/')).rejects.toMatchObject({ code: 'is_a_directory' });
    await expect(env.transport.deleteFile('/d/absent')).rejects.toMatchObject({
      code: 'not_found',
      message: 'There is no "/d/absent" on Google Drive.',
    });
    await expect(env.transport.deleteDir('/d/sub/f.bin')).rejects.toMatchObject({ code: 'not_a_directory' });
    await expect(env.transport.deleteDir('/absent')).rejects.toMatchObject({ code: 'not_found' });
    await expect(env.transport.deleteDir('/')).rejects.toMatchObject({ code: 'invalid_path' });
    await env.transport.deleteFile('/d/sub/f.bin');
    expect(liveNamed(env, 'f.bin')).toHaveLength(0);
    await env.transport.deleteDir('/d');
    expect(liveNamed(env, 'd')).toHaveLength(0);
    expect(liveNamed(env, 'sub')).toHaveLength(0);
    // The deleted folders left the cache: making them again really makes them.
    env.sandbox.resetCounters();
    await env.transport.createDir('/d/sub');
    expect(env.sandbox.counters()['files.create']).toBe(2);
  });

  it('replaces a file written again under the same name', async () => {
    env = await startTestEnv();
    await putFile(env, '/backup.tar', 'first version');
    const second = await putFile(env, '/backup.tar', 'second');
    expect(liveNamed(env, 'backup.tar')).toHaveLength(1);
    expect(await env.transport.stat('/backup.tar')).toEqual({
      name: 'backup.tar',
      size: 6,
      isDir: false,
      hash: second.md5,
    });
  });

  it('reads from an offset and refuses what cannot be read or written', async () => {
    env = await startTestEnv({ object: { type: 'customer', id: '3' }, objectName: 'jdoe' });
    await putFile(env, '/dumps/backup.tar', '0123456789');
    const fd = await env.transport.openFileRead('/dumps/backup.tar', 4);
    const local = join(env.tmpDir, 'restore');
    expect(await env.connector.readFile(fd, local, 3)).toBe(3);
    expect(await readFile(local, 'utf8')).toBe('456');
    expect(await env.connector.readFile(fd, local, null)).toBe(3);
    expect(await readFile(local, 'utf8')).toBe('789');
    await env.connector.closeRead(fd);
    await expect(env.transport.openFileRead('/dumps/absent.tar', 0)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(env.transport.openFileRead('/dumps', 0)).rejects.toMatchObject({ code: 'is_a_directory' });
    await expect(env.transport.openFileRead('/dumps/backup.tar', -1)).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(env.transport.openFileWrite('/dumps')).rejects.toMatchObject({ code: 'is_a_directory' });
    await expect(env.transport.openFileWrite('/')).rejects.toMatchObject({ code: 'is_a_directory' });
    expect(await env.connector.openHandles()).toBe(0);
  });

  it('refuses paths that climb or hide', async () => {
    env = await startTestEnv();
    for (const path of ['/a/../b', '/a//b', '/a/./b', 'a\0b']) {
      await expect(env.transport.stat(path)).rejects.toMatchObject({ code: 'invalid_path' });
      await expect(env.transport.createDir(path)).rejects.toMatchObject({ code: 'invalid_path' });
      await expect(env.transport.openFileWrite(path)).rejects.toMatchObject({ code: 'invalid_path' });
    }
    expect(env.sandbox.items().filter((item) => item.name === 'b')).toHaveLength(0);
  });

  it('reports the quota, and {} when Drive has no limit', async () => {
    env = await startTestEnv({ sandbox: { quotaBytes: 5 * 1024 ** 3 } });
    await putFile(env, '/f', Buffer.alloc(4096));
    expect(await env.transport.getQuota()).toEqual({ total: 5 * 1024 ** 3, free: 5 * 1024 ** 3 - 4096 });
    env.sandbox.setQuota(null);
    expect(await env.transport.getQuota()).toEqual({});
  });

  it('retries a metadata call Drive answered with 503, then succeeds', async () => {
    env = await startTestEnv();
    env.sandbox.setFaults('files.list:503x2');
    await env.transport.createDir('/after-faults');
    expect(await env.transport.stat('/after-faults')).toMatchObject({ isDir: true });
    expect(env.connector.requestCounts()['files.list']).toBe(env.sandbox.counters()['files.list']);
    // A final answer is not retried.
    env.sandbox.setFaults('files.list:quota403');
    const before = env.sandbox.counters()['files.list'];
    await expect(env.transport.stat('/after-faults')).rejects.toMatchObject({ code: 'drive_full' });
    expect(env.sandbox.counters()['files.list']).toBe(before + 1);
  });

  it("takes the upload cap's answer on a metadata request for a burst of rate limiting: retried, never daily_limit", async () => {
    env = await startTestEnv({ config: { maxAttempts: 4 } });
    await env.transport.createDir('/d');
    env.sandbox.setFaults('files.list:daily403x3');
    expect(await env.transport.stat('/d')).toMatchObject({ isDir: true });
    env.sandbox.setFaults('files.list:daily403');
    const before = env.sandbox.counters()['files.list'];
    await expect(env.transport.stat('/d')).rejects.toMatchObject({ code: 'rate_limited', retryable: true });
    expect(env.sandbox.counters()['files.list']).toBe(before + 4);
  });
});

describe('names differing only in case (Drive matches name = case-insensitively)', () => {
  it('writing Backup.tar neither deletes nor answers for backup.tar', async () => {
    env = await startTestEnv();
    const lower = await putFile(env, '/d/backup.tar', 'lower case');
    const upper = await putFile(env, '/d/Backup.tar', 'UPPER');
    expect(liveNamed(env, 'backup.tar')).toHaveLength(1);
    expect(liveNamed(env, 'Backup.tar')).toHaveLength(1);
    expect(await env.transport.stat('/d/backup.tar')).toEqual({
      name: 'backup.tar',
      size: 10,
      isDir: false,
      hash: lower.md5,
    });
    expect(await env.transport.stat('/d/Backup.tar')).toMatchObject({ name: 'Backup.tar', hash: upper.md5 });
    expect(await env.transport.stat('/d/BACKUP.TAR')).toBeNull();
    const fd = await env.transport.openFileRead('/d/backup.tar', 0);
    const local = join(env.tmpDir, 'lower');
    await env.connector.readFile(fd, local, null);
    await env.connector.closeRead(fd);
    expect(await readFile(local, 'utf8')).toBe('lower case');
    await env.transport.deleteFile('/d/Backup.tar');
    expect(liveNamed(env, 'Backup.tar')).toHaveLength(0);
    expect(liveNamed(env, 'backup.tar')).toHaveLength(1);
    await expect(env.transport.deleteFile('/d/BACKUP.tar')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a folder named with other case is a folder of its own', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/Dumps');
    await env.transport.createDir('/dumps/sub');
    expect(liveNamed(env, 'Dumps')).toHaveLength(1);
    expect(liveNamed(env, 'dumps')).toHaveLength(1);
    expect((await env.transport.listDir('/')).map((e) => e.name).sort()).toEqual(['Dumps', 'dumps']);
    expect(await env.transport.listDir('/Dumps')).toEqual([]);
    await env.transport.deleteDir('/Dumps');
    expect(await env.transport.stat('/dumps/sub')).toMatchObject({ isDir: true });
  });
});
