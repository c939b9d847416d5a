import { afterEach, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { itemAt, sandboxDrive } from '../helpers/sandbox-drive.js';
import {
  connectObject,
  recordingLog,
  startTestEnv,
  type TestEnv,
  writeLocalFile,
} from '../helpers/test-env.js';

const server: ObjectRef = { type: 'server', id: null };
const ROOT = ['Plesk Backups', 'test-host'];

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

function folders(env: TestEnv, name?: string) {
  return env.sandbox
    .items()
    .filter((item) => item.mimeType === 'application/vnd.google-apps.folder' && !item.trashed)
    .filter((item) => name === undefined || item.name === name);
}

function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [kind, count] of Object.entries(after)) {
    const diff = count - (before[kind] ?? 0);
    if (diff !== 0) changed[kind] = diff;
  }
  return changed;
}

describe('object folders', () => {
  it('makes <root>/<type>/<name> once; later createDir calls cost one check, even after a restart', async () => {
    env = await startTestEnv({ object: { type: 'subscription', id: '7' }, objectName: 'example.com' });
    let before = env.sandbox.counters();
    await env.transport.createDir('/a/b/c');
    expect(delta(before, env.sandbox.counters())).toEqual({ 'files.list': 7, 'files.create': 7 });
    expect(itemAt(env.sandbox, [...ROOT, 'subscription', 'example.com', 'a', 'b', 'c'])).toBeTruthy();

    before = env.sandbox.counters();
    await env.transport.createDir('/a/b/c');
    await env.transport.createDir('/a/b');
    expect(delta(before, env.sandbox.counters())).toEqual({ 'files.get': 2 });

    await env.reopen();
    before = env.sandbox.counters();
    await env.transport.createDir('/a/b/c');
    expect(delta(before, env.sandbox.counters())).toEqual({ 'oauth.token': 1, 'files.get': 1 });
    expect(await env.transport.account()).toMatchObject({
      folder: 'My Drive/Plesk Backups/test-host/subscription/example.com',
    });
  });

  it('handles names with quotes, backslashes, spaces and non-Latin letters', async () => {
    env = await startTestEnv();
    const names = ["it's a \\ folder", 'Résumé ёжик 備份', "a'b\\'c"];
    for (const name of names) await env.transport.createDir(`/${name}/inner`);
    await env.reopen(); // no cache in memory; the state file still has the ids
    await env.connector.oauth.disconnect(server); // drops the cache as well
    await env.connect();
    for (const name of names) {
      expect(await env.transport.stat(`/${name}`)).toEqual({ name, size: 0, isDir: true });
      expect(await env.transport.listDir(`/${name}`)).toEqual([{ name: 'inner', size: 0, isDir: true }]);
    }
    expect((await env.transport.listDir('/')).map((e) => e.name).sort()).toEqual([...names].sort());
    expect(folders(env, "it's a \\ folder")).toHaveLength(1);
  });

  it('makes one folder when createDir of one path runs 10 times at once', async () => {
    env = await startTestEnv();
    await Promise.all(Array.from({ length: 10 }, () => env!.transport.createDir('/dumps/2026/11')));
    for (const name of [...ROOT, 'server', 'dumps', '2026', '11']) expect(folders(env, name)).toHaveLength(1);
    // And for sibling paths sharing parents.
    await Promise.all(Array.from({ length: 10 }, (_, i) => env!.transport.createDir(`/dumps/2027/${i % 3}`)));
    expect(folders(env, '2027')).toHaveLength(1);
    expect(folders(env, '0')).toHaveLength(1);
    expect(folders(env, '2')).toHaveLength(1);
  });

  it('shares the root folders between objects made at the same moment', async () => {
    env = await startTestEnv({ connect: false });
    const objects: ObjectRef[] = [1, 2, 3, 4, 5].map((id) => ({ type: 'subscription', id: String(id) }));
    for (const object of objects)
      await connectObject(env.connector, object, { name: `site${object.id}.example` });
    await Promise.all(objects.map((object) => env!.connector.transport(object).createDir('/dumps')));
    for (const name of [...ROOT, 'subscription']) expect(folders(env, name)).toHaveLength(1);
    expect(folders(env, 'dumps')).toHaveLength(5);
    for (const object of objects) {
      expect(
        itemAt(env.sandbox, [...ROOT, 'subscription', `site${object.id}.example`, 'dumps']),
      ).toBeTruthy();
    }
  });

  it('uses the oldest of duplicate folders Drive already holds, with a warning', async () => {
    const log = recordingLog();
    env = await startTestEnv({ log });
    await env.transport.createDir('/');
    const objectFolder = itemAt(env.sandbox, [...ROOT, 'server']);
    const drive = await sandboxDrive(env.sandbox);
    const oldest = await drive.createFolder(objectFolder, 'dup');
    await drive.createFile(oldest, 'in-the-oldest');
    const newer = await drive.createFolder(objectFolder, 'dup');
    await drive.createFile(newer, 'in-the-newer');
    expect(await env.transport.listDir('/dup')).toEqual([
      { name: 'in-the-oldest', size: 0, isDir: false, hash: 'd41d8cd98f00b204e9800998ecf8427e' },
    ]);
    await env.transport.createDir('/dup/sub');
    expect(env.sandbox.items().find((item) => item.name === 'sub')?.parents).toEqual([oldest]);
    expect(log.entries.some((e) => e.level === 'warn' && e.message.includes('several folders'))).toBe(true);
    expect(await env.transport.stat('/dup')).toEqual({ name: 'dup', size: 0, isDir: true });
  });

  it('notices a cached folder deleted behind its back and makes it again', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/gone/sub');
    const drive = await sandboxDrive(env.sandbox);
    await drive.delete(itemAt(env.sandbox, [...ROOT, 'server', 'gone']));
    await expect(env.transport.listDir('/gone/sub')).rejects.toMatchObject({ code: 'not_found' });
    await env.transport.createDir('/gone/sub');
    const sub = itemAt(env.sandbox, [...ROOT, 'server', 'gone', 'sub']);
    const fd = await env.transport.openFileWrite('/gone/sub/file.bin');
    await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'piece', 'data'));
    await env.connector.closeWrite(fd);
    expect(env.sandbox.items().find((item) => item.name === 'file.bin')?.parents).toEqual([sub]);

    // A trashed folder counts as gone too; so does the object's own folder.
    await drive.trash(itemAt(env.sandbox, [...ROOT, 'server']));
    await env.transport.createDir('/gone/sub');
    expect(folders(env, 'server')).toHaveLength(1);
    expect(itemAt(env.sandbox, [...ROOT, 'server', 'gone', 'sub'])).not.toBe(sub);
  });

  it('makes a missing parent when a file is opened for writing', async () => {
    env = await startTestEnv();
    const fd = await env.transport.openFileWrite('/new/parent/backup.tar');
    await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'piece', 'tar'));
    await env.connector.closeWrite(fd);
    expect(await env.transport.stat('/new/parent/backup.tar')).toMatchObject({ size: 3, isDir: false });
  });

  it('lists a folder of 1,100 children across pages, asking only for the fields it needs', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/many');
    const many = itemAt(env.sandbox, [...ROOT, 'server', 'many']);
    const drive = await sandboxDrive(env.sandbox);
    const names = Array.from({ length: 1100 }, (_, i) => `f${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((name) => drive.createFile(many, name)));
    }
    const before = env.sandbox.counters();
    const listing = await env.transport.listDir('/many');
    expect(listing).toHaveLength(1100);
    expect(listing.map((e) => e.name).sort()).toEqual(names);
    expect(delta(before, env.sandbox.counters())).toEqual({ 'files.list': 2 });
  });
});

describe('root folder settings', () => {
  it('puts the object folder in a shared drive (drive:<id>/path)', async () => {
    env = await startTestEnv({ connect: false });
    const driveId = env.sandbox.createSharedDrive('Team backups');
    await env.connect(server, { folder: `drive:${driveId}/Plesk/host1` });
    expect(await env.transport.account()).toMatchObject({
      folder: `Shared drive ${driveId}/Plesk/host1/server`,
    });
    await env.transport.createDir('/dumps');
    const fd = await env.transport.openFileWrite('/dumps/backup.tar');
    await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'piece', 'shared'));
    const written = await env.connector.closeWrite(fd);
    const entry = await env.transport.stat('/dumps/backup.tar');
    expect(entry).toEqual({ name: 'backup.tar', size: 6, isDir: false, hash: written.md5 });
    expect(await env.transport.listDir('/dumps')).toEqual([entry]);
    const file = env.sandbox.items().find((item) => item.name === 'backup.tar');
    expect(file?.driveId).toBe(driveId);
    const fdRead = await env.transport.openFileRead('/dumps/backup.tar', 2);
    const back = `${env.tmpDir}/back`;
    expect(await env.connector.readFile(fdRead, back, null)).toBe(4);
    await env.connector.closeRead(fdRead);
    await env.transport.deleteFile('/dumps/backup.tar');
    await env.transport.deleteDir('/dumps');
    expect(await env.transport.listDir('/')).toEqual([]);
    expect(itemAt(env.sandbox, ['Plesk', 'host1', 'server'], driveId)).toBeTruthy();
  });

  it('puts the object folder under a folder given by id (id:<folderId>)', async () => {
    env = await startTestEnv({ connect: false });
    const drive = await sandboxDrive(env.sandbox);
    const top = await drive.createFolder('root', 'Chosen by id');
    await env.connect(server, { folder: `id:${top}` });
    await env.transport.createDir('/x');
    expect(itemAt(env.sandbox, ['server', 'x'], top)).toBeTruthy();
    expect(await env.transport.account()).toMatchObject({ folder: `Folder ${top}/server` });
  });

  it('refuses a bad folder setting at connect time', async () => {
    env = await startTestEnv({ connect: false });
    await expect(env.connect(server, { folder: 'a/../b' })).rejects.toMatchObject({ code: 'invalid_path' });
    await expect(env.connect(server, { folder: 'drive:' })).rejects.toMatchObject({ code: 'invalid_path' });
    await expect(env.connect(server, { folder: "id:x'y" })).rejects.toMatchObject({ code: 'invalid_path' });
  });
});
