// Phase-1 smoke: the core paths work end to end with plain fetch.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFolder,
  FOLDER,
  type Harness,
  harness,
  KIB256,
  pattern,
  putChunk,
  startUpload,
} from './helpers.js';

describe('sandbox core', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h.close());

  it('answers about.get with the user and the quota', async () => {
    const { status, body } = await h.json<{
      user: Record<string, unknown>;
      storageQuota: Record<string, string>;
    }>('drive/v3/about?fields=user,storageQuota');
    expect(status).toBe(200);
    expect(body.user).toEqual(
      expect.objectContaining({ emailAddress: 'admin@example.com', me: true, kind: 'drive#user' }),
    );
    expect(body.storageQuota).toEqual({
      limit: String(15 * 1024 ** 3),
      usage: '0',
      usageInDrive: '0',
      usageInDriveTrash: '0',
    });
  });

  it('creates a folder, lists it, uploads into it resumably, downloads it', async () => {
    const folder = await createFolder(h, 'Plesk Backups');
    const list = await h.json<{ files: Array<{ id: string; name: string; mimeType: string }> }>(
      `drive/v3/files?q=${encodeURIComponent("name = 'Plesk Backups' and 'root' in parents and trashed = false")}`,
    );
    expect(list.body.files).toEqual([
      { kind: 'drive#file', id: folder, name: 'Plesk Backups', mimeType: FOLDER },
    ]);
    const root = h.sandbox.items().find((i) => i.id === folder)!.parents[0]!;
    const list2 = await h.json<{ files: Array<{ id: string; name: string; mimeType: string }> }>(
      `drive/v3/files?q=${encodeURIComponent(`name = 'Plesk Backups' and '${root}' in parents and trashed = false`)}`,
    );
    expect(list2.body.files).toEqual([
      { kind: 'drive#file', id: folder, name: 'Plesk Backups', mimeType: FOLDER },
    ]);

    const data = pattern(KIB256 * 2 + 1000);
    const session = await startUpload(
      h,
      { name: 'a.tar', parents: [folder] },
      '&fields=id,size,md5Checksum,sha256Checksum',
    );
    const r1 = await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, data.subarray(0, KIB256));
    expect(r1.status).toBe(308);
    expect(r1.headers.get('range')).toBe(`bytes=0-${KIB256 - 1}`);
    const r2 = await putChunk(
      h,
      session,
      `bytes ${KIB256}-${data.length - 1}/${data.length}`,
      data.subarray(KIB256),
    );
    expect(r2.status).toBe(200);
    const file = (await r2.json()) as Record<string, string>;
    expect(file).toEqual({
      id: expect.any(String),
      size: String(data.length),
      md5Checksum: createHash('md5').update(data).digest('hex'),
      sha256Checksum: createHash('sha256').update(data).digest('hex'),
    });
    expect(readFileSync(h.sandbox.contentPath(file.id!)).equals(data)).toBe(true);
    const dl = await h.api(`drive/v3/files/${file.id}?alt=media`);
    expect(dl.status).toBe(200);
    expect(Buffer.from(await dl.arrayBuffer()).equals(data)).toBe(true);
    expect(h.sandbox.tree()).toContain(`a.tar (${data.length} B)`);
  });
});
