// Shared drives and checksums that are "if available", against the sandbox as Drive behaves:
// a content manager (fileOrganizer) may not delete permanently, so deletes and replacements go
// to the trash instead; a file without sha256 is verified by size and md5; an upload answer
// without md5 is re-read with files.get before anything is deleted.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { md5, putFile, recordingLog, sha256, startTestEnv, type TestEnv } from '../helpers/test-env.js';

const server: ObjectRef = { type: 'server', id: null };

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

function named(env: TestEnv, name: string) {
  return env.sandbox.items().filter((item) => item.name === name);
}

describe('a shared drive where the account is a content manager', () => {
  it('deletes files and folders by moving them to the trash, and replaces a file the same way', async () => {
    const log = recordingLog();
    env = await startTestEnv({ connect: false, log });
    const driveId = env.sandbox.createSharedDrive('Team backups', { role: 'fileOrganizer' });
    await env.connect(server, { folder: `drive:${driveId}/Plesk` });
    await putFile(env, '/dumps/old.tar', 'old');
    await putFile(env, '/dumps/backup.tar', 'first');
    await putFile(env, '/dumps/backup.tar', 'second');
    // The replaced copy is in the trash, the new one answers.
    expect(
      named(env, 'backup.tar')
        .map((i) => i.trashed)
        .sort(),
    ).toEqual([false, true]);
    expect(await env.transport.stat('/dumps/backup.tar')).toMatchObject({ size: 6 });

    await env.transport.deleteFile('/dumps/old.tar');
    expect(named(env, 'old.tar')).toMatchObject([{ trashed: true }]);
    expect(await env.transport.stat('/dumps/old.tar')).toBeNull();

    await env.transport.deleteDir('/dumps');
    expect(named(env, 'dumps')).toMatchObject([{ trashed: true }]);
    expect(await env.transport.stat('/dumps')).toBeNull();
    expect(await env.transport.listDir('/')).toEqual([]);
    expect(log.entries.some((e) => e.message.includes('moved to trash'))).toBe(true);
    // Made again after the delete: a new folder, not the trashed one.
    await env.transport.createDir('/dumps');
    expect(
      named(env, 'dumps')
        .map((i) => i.trashed)
        .sort(),
    ).toEqual([false, true]);
  });

  it('still deletes permanently where the account is an organizer', async () => {
    env = await startTestEnv({ connect: false });
    const driveId = env.sandbox.createSharedDrive('Team backups');
    await env.connect(server, { folder: `drive:${driveId}` });
    await putFile(env, '/f.tar', 'x');
    await env.transport.deleteFile('/f.tar');
    expect(named(env, 'f.tar')).toEqual([]);
  });
});

describe('checksums Drive may not have', () => {
  it('verifies a file Drive keeps without sha256 by size and md5', async () => {
    env = await startTestEnv();
    env.sandbox.setFaults('upload.chunk:nosha256');
    const bytes = Buffer.from('no sha256 on Drive for this one');
    const result = await putFile(env, '/a.bin', bytes);
    expect(result).toEqual({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
    expect(named(env, 'a.bin')).toHaveLength(1);
    expect(named(env, 'a.bin')[0]!.sha256).toBeUndefined();
    expect(await env.transport.stat('/a.bin')).toMatchObject({ size: bytes.length, hash: md5(bytes) });
  });

  it('re-reads an upload answered without md5 with files.get, and keeps the verified file', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/d');
    env.sandbox.setFaults('upload.chunk:nomd5');
    env.sandbox.resetCounters();
    const bytes = Buffer.from('md5 arrives later');
    const result = await putFile(env, '/d/b.bin', bytes);
    expect(result).toMatchObject({ size: bytes.length, md5: md5(bytes) });
    expect(env.sandbox.counters()['files.get']).toBe(1);
    expect(env.sandbox.counters()['files.delete']).toBe(0);
    env.sandbox.setFaults('');
    const fd = await env.transport.openFileRead('/d/b.bin', 0);
    const out = join(env.tmpDir, 'b');
    await env.connector.readFile(fd, out, null);
    await env.connector.closeRead(fd);
    expect(await readFile(out)).toEqual(bytes);
  });

  it('still refuses a copy no re-read can prove (no md5 at all), and removes it', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/d');
    // The answer lacks md5 and files.get then lacks it too: nothing proves the copy.
    env.sandbox.setFaults('upload.chunk:nomd5;files.get:nomd5');
    await expect(putFile(env, '/d/c.bin', 'unprovable')).rejects.toMatchObject({
      code: 'verification_failed',
    });
    expect(named(env, 'c.bin')).toEqual([]);
  });
});
