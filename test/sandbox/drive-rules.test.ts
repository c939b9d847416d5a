// Rules where real Drive differs from what a client would naively expect, and which the
// sandbox therefore shows: case-insensitive `name =`, lists that lag behind writes, checksums
// that are only "if available", shared-drive roles. Sources are cited in the sandbox's code
// and in shared/reference/google-drive-facts.md.
import { afterEach, describe, expect, it } from 'vitest';
import { parseFaultSpec } from '../../connector/sandbox/faults.js';
import { parseQuery } from '../../connector/sandbox/query-parser.js';
import { createFolder, type Harness, harness, putChunk, startUpload, uploadFile } from './helpers.js';

type FileList = { files: Array<{ id: string; name: string }> };

const listQ = (q: string, extra = '&fields=files(id,name)'): string =>
  `drive/v3/files?q=${encodeURIComponent(q)}${extra}`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("name = '...' is case-insensitive, as on Drive", () => {
  it('matches names that differ only in case, both ways; != is its negation', async () => {
    h = await harness();
    const parent = await createFolder(h, 'p');
    await createFolder(h, 'Backup.tar', parent);
    await createFolder(h, 'backup.TAR', parent);
    await createFolder(h, 'other', parent);
    for (const asked of ['backup.tar', 'BACKUP.TAR', 'Backup.tar']) {
      const { body } = await h.json<FileList>(listQ(`name = '${asked}' and '${parent}' in parents`));
      expect(body.files.map((f) => f.name).sort()).toEqual(['Backup.tar', 'backup.TAR']);
    }
    const { body } = await h.json<FileList>(listQ(`name != 'BACKUP.tar' and '${parent}' in parents`));
    expect(body.files.map((f) => f.name)).toEqual(['other']);
  });

  it('keeps mimeType exact', () => {
    const item = {
      name: 'a',
      mimeType: 'application/octet-stream',
      parents: [],
      trashed: false,
      createdTime: '2026-01-01T00:00:00.000Z',
      modifiedTime: '2026-01-01T00:00:00.000Z',
    };
    expect(parseQuery("name = 'A'")(item)).toBe(true);
    expect(parseQuery("mimeType = 'Application/Octet-Stream'")(item)).toBe(false);
  });

  it('a file uploaded as one case is found by another', async () => {
    h = await harness();
    await uploadFile(h, 'Dump.XML', Buffer.from('x'));
    const { body } = await h.json<FileList>(listQ("name = 'dump.xml'"));
    expect(body.files.map((f) => f.name)).toEqual(['Dump.XML']);
  });
});

describe('shared drives: only an organizer deletes permanently', () => {
  const drives = '&supportsAllDrives=true';
  it('a content manager (fileOrganizer) gets 403 insufficientFilePermissions on delete, and may trash', async () => {
    h = await harness();
    const driveId = h.sandbox.createSharedDrive('Team', { role: 'fileOrganizer' });
    const folder = await createFolder(h, 'f', driveId, '?supportsAllDrives=true');
    const got = await h.json<{ capabilities: { canDelete: boolean; canTrash: boolean } }>(
      `drive/v3/files/${folder}?fields=capabilities${drives}`,
    );
    expect(got.body.capabilities).toMatchObject({ canDelete: false, canTrash: true });
    const refused = await h.json(`drive/v3/files/${folder}?${drives.slice(1)}`, { method: 'DELETE' });
    expect(refused).toEqual({
      status: 403,
      body: {
        error: expect.objectContaining({
          code: 403,
          message: 'The user does not have sufficient permissions for this file.',
          errors: [expect.objectContaining({ reason: 'insufficientFilePermissions', domain: 'global' })],
        }),
      },
    });
    expect(h.sandbox.items().find((i) => i.id === folder)).toMatchObject({ trashed: false });
    const trash = await h.api(`drive/v3/files/${folder}?${drives.slice(1)}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ trashed: true }),
    });
    expect(trash.status).toBe(200);
    expect(h.sandbox.items().find((i) => i.id === folder)).toMatchObject({ trashed: true });
  });

  it('an organizer (the default) deletes permanently', async () => {
    h = await harness();
    const driveId = h.sandbox.createSharedDrive('Team');
    const folder = await createFolder(h, 'f', driveId, '?supportsAllDrives=true');
    expect((await h.api(`drive/v3/files/${folder}?${drives.slice(1)}`, { method: 'DELETE' })).status).toBe(
      204,
    );
    expect(h.sandbox.items().some((i) => i.id === folder)).toBe(false);
  });
});

describe('checksums are "if available"', () => {
  it('nosha256: the file made by that request has md5 but no sha256, from then on', async () => {
    h = await harness();
    h.sandbox.setFaults('upload.chunk:nosha256');
    const id = await uploadFile(h, 'no-sha.bin', Buffer.from('content'));
    h.sandbox.setFaults('');
    const { body } = await h.json(`drive/v3/files/${id}?fields=size,md5Checksum,sha256Checksum`);
    expect(body).toEqual({ size: '7', md5Checksum: '9a0364b9e99bb480dd25e1f0284c8555' });
  });

  it('nomd5: that answer leaves the checksums out, files.get shows them', async () => {
    h = await harness();
    h.sandbox.setFaults('upload.chunk:nomd5');
    const session = await startUpload(h, { name: 'later.bin' }, '&fields=id,size,md5Checksum,sha256Checksum');
    const res = await putChunk(h, session, 'bytes 0-6/7', Buffer.from('content'));
    const answer = (await res.json()) as Record<string, string>;
    expect(Object.keys(answer).sort()).toEqual(['id', 'size']);
    h.sandbox.setFaults('');
    const { body } = await h.json(`drive/v3/files/${answer.id}?fields=md5Checksum`);
    expect(body).toEqual({ md5Checksum: '9a0364b9e99bb480dd25e1f0284c8555' });
  });
});

describe('files.list lags behind writes (hideN)', () => {
  it('hides items made in the last N seconds from lists; files.get finds them; the list catches up', async () => {
    h = await harness();
    const parent = await createFolder(h, 'p');
    h.sandbox.setFaults('files.list:hide600');
    const child = await createFolder(h, 'new', parent);
    const q = listQ(`'${parent}' in parents`);
    expect((await h.json<FileList>(q)).body.files).toEqual([]);
    expect((await h.json<FileList>(listQ("name = 'p'"))).body.files).toEqual([]);
    expect((await h.json(`drive/v3/files/${child}?fields=id,name`)).body).toEqual({ id: child, name: 'new' });
    // hide0 hides nothing made before this moment; no fault, the same.
    h.sandbox.setFaults('files.list:hide0');
    expect((await h.json<FileList>(q)).body.files).toEqual([{ id: child, name: 'new' }]);
    h.sandbox.setFaults('');
    expect((await h.json<FileList>(q)).body.files).toEqual([{ id: child, name: 'new' }]);
  });

  it('parses hideN rules', () => {
    expect(parseFaultSpec('files.list:hide5x2')).toEqual([
      { kind: 'files.list', fault: 'hide5', at: 1, count: 2, rate: null },
    ]);
    expect(() => parseFaultSpec('files.list:hide')).toThrow(/hideN/);
  });
});
