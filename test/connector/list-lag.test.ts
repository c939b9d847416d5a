// Drive's files.list is not read-after-write consistent: what was just made can stay missing
// from lists for seconds. The sandbox's files.list:hideN fault hides items made in the last N
// seconds from every list (files.get still finds them); the connector must neither make a
// folder twice nor lose sight of a file it just closed. Duplicates: the newest complete copy
// answers.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { itemAt } from '../helpers/sandbox-drive.js';
import {
  connectObject,
  md5,
  putFile,
  startTestEnv,
  type TestEnv,
  writeLocalFile,
} from '../helpers/test-env.js';

const ROOT = ['Plesk Backups', 'test-host'];
/** Longer than any test: every item made during the test stays unlisted. */
const HIDE = 'files.list:hide3600';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

function live(env: TestEnv, name: string) {
  return env.sandbox.items().filter((item) => item.name === name && !item.trashed);
}

describe('folders made a moment ago, which lists do not show yet', () => {
  it('are made once when two objects need the same root folders', async () => {
    env = await startTestEnv({ connect: false });
    env.sandbox.setFaults(HIDE);
    const site: ObjectRef = { type: 'subscription', id: '7' };
    await connectObject(env.connector, { type: 'server', id: null });
    await connectObject(env.connector, site, { name: 'example.com' });
    await env.connector.transport({ type: 'server', id: null }).createDir('/dumps');
    await env.connector.transport(site).createDir('/dumps');
    for (const name of [...ROOT, 'server', 'subscription', 'example.com'])
      expect(live(env, name)).toHaveLength(1);
    expect(live(env, 'dumps')).toHaveLength(2);
    expect(itemAt(env.sandbox, [...ROOT, 'subscription', 'example.com', 'dumps'])).toBeTruthy();
  });

  it('are made once when the folder cache is dropped right after making them', async () => {
    env = await startTestEnv();
    env.sandbox.setFaults(HIDE);
    await env.transport.createDir('/a/b');
    // Another account for the object drops its cached ids (the same happens to stale ones).
    await env.connector.oauth.disconnect({ type: 'server', id: null });
    await env.connect();
    await env.transport.createDir('/a/b');
    for (const name of [...ROOT, 'server', 'a', 'b']) expect(live(env, name)).toHaveLength(1);
    expect((await env.transport.listDir('/a')).map((e) => e.name)).toEqual(['b']);
  });
});

describe('a file just closed, which lists do not show yet', () => {
  it('is stat-able, listed, readable and replaced like any other', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/d');
    env.sandbox.setFaults(HIDE);
    const written = await putFile(env, '/d/backup.tar', 'just written');
    expect(await env.transport.stat('/d/backup.tar')).toEqual({
      name: 'backup.tar',
      size: 12,
      isDir: false,
      hash: written.md5,
    });
    expect(await env.transport.listDir('/d')).toEqual([
      { name: 'backup.tar', size: 12, isDir: false, hash: written.md5 },
    ]);
    const fd = await env.transport.openFileRead('/d/backup.tar', 0);
    const out = join(env.tmpDir, 'out');
    await env.connector.readFile(fd, out, null);
    await env.connector.closeRead(fd);
    expect(await readFile(out, 'utf8')).toBe('just written');
    // Written again: the unlisted first copy is replaced, not left beside the second.
    await putFile(env, '/d/backup.tar', 'second');
    expect(live(env, 'backup.tar')).toHaveLength(1);
    expect(await env.transport.stat('/d/backup.tar')).toMatchObject({ size: 6 });
    await env.transport.deleteFile('/d/backup.tar');
    expect(live(env, 'backup.tar')).toHaveLength(0);
    expect(await env.transport.stat('/d/backup.tar')).toBeNull();
  });
});

describe('what the connector remembers', () => {
  it('survives a restart: a file closed just before it is still found', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/d');
    env.sandbox.setFaults(HIDE);
    const written = await putFile(env, '/d/before-restart.tar', 'kept');
    await env.reopen();
    expect(await env.transport.stat('/d/before-restart.tar')).toMatchObject({ size: 4, hash: written.md5 });
  });

  it('is forgotten after an hour, when lists have long caught up', async () => {
    let now = Date.now();
    env = await startTestEnv({ now: () => now });
    await env.transport.createDir('/d');
    env.sandbox.setFaults(HIDE);
    await putFile(env, '/d/old.tar', 'old');
    now += 3600_000 + 1;
    env.sandbox.resetCounters();
    // The sandbox still hides it (its own clock), so only the memory could find it: it no longer does.
    expect(await env.transport.stat('/d/old.tar')).toBeNull();
    expect(env.sandbox.counters()['files.get']).toBe(0);
  });
});

describe('duplicate files', () => {
  it('answer with the newest complete copy', async () => {
    env = await startTestEnv();
    await putFile(env, '/dup.tar', 'older copy');
    // A second copy beside the first, as a replacement whose old copy could not be removed leaves.
    const parentId = itemAt(env.sandbox, [...ROOT, 'server']);
    const fd = await env.transport.engine.openWrite({
      object: env.object,
      path: '/dup.tar',
      name: 'dup.tar',
      parentId,
    });
    await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'newer', 'newer copy!'));
    await env.connector.closeWrite(fd);
    expect(live(env, 'dup.tar')).toHaveLength(2);
    expect(await env.transport.stat('/dup.tar')).toMatchObject({
      size: 11,
      hash: md5(Buffer.from('newer copy!')),
    });
    expect(await env.transport.listDir('/')).toEqual([
      { name: 'dup.tar', size: 11, isDir: false, hash: md5(Buffer.from('newer copy!')) },
    ]);
    const read = await env.transport.openFileRead('/dup.tar', 0);
    const out = join(env.tmpDir, 'dup');
    await env.connector.readFile(read, out, null);
    await env.connector.closeRead(read);
    expect(await readFile(out, 'utf8')).toBe('newer copy!');
  });
});
