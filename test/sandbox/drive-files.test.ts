// Drive metadata: create/list/get/update/delete, the q parser, paging, orderBy, fields,
// about.get, quota, shared-drive and drive.file visibility.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQuery, QueryError } from '../../connector/sandbox/query-parser.js';
import {
  accessToken,
  bearer,
  createFolder,
  FOLDER,
  type Harness,
  harness,
  jsonBody,
  putChunk,
  SCOPE_FULL,
  startUpload,
  tokenFor,
} from './helpers.js';

type FileList = { files: Array<Record<string, unknown>>; nextPageToken?: string };

const listQ = (q: string, extra = ''): string => `drive/v3/files?q=${encodeURIComponent(q)}${extra}`;

describe('files and folders', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h.close());

  it('files.create: defaults, one parent, unknown parent 404, duplicate names allowed', async () => {
    const a = await createFolder(h, 'dup');
    const b = await createFolder(h, 'dup');
    expect(a).not.toBe(b);
    const missing = await h.json<{ error: { errors: Array<{ reason: string }> } }>(
      'drive/v3/files',
      jsonBody({ name: 'x', mimeType: FOLDER, parents: ['nope'] }),
    );
    expect(missing.status).toBe(404);
    expect(missing.body.error.errors[0]!.reason).toBe('notFound');
    const two = await h.json('drive/v3/files', jsonBody({ name: 'x', parents: [a, b] }));
    expect(two.status).toBe(403);
    const unknownField = await h.json('drive/v3/files', jsonBody({ name: 'x', sizee: 3 }));
    expect(unknownField.status).toBe(400);
    const created = await h.json(
      'drive/v3/files?fields=id,name,size,parents',
      jsonBody({ name: 'empty.bin', parents: [a] }),
    );
    expect(created.body).toEqual({ id: expect.any(String), name: 'empty.bin', size: '0', parents: [a] });
    const notJson = await h.api('drive/v3/files', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(notJson.status).toBe(400);
  });

  it('q: name literals with escaped quote and backslash match exactly', async () => {
    const parent = await createFolder(h, 'escapes');
    const odd = "it's a \\ name";
    const id = await createFolder(h, odd, parent);
    await createFolder(h, "it's a  name", parent);
    const q = `name = 'it\\'s a \\\\ name' and '${parent}' in parents and trashed = false`;
    const { status, body } = await h.json<FileList>(listQ(q, '&fields=files(id,name)'));
    expect(status).toBe(200);
    expect(body.files).toEqual([{ id, name: odd }]);
  });

  it('q: invalid queries are 400 reason invalid', async () => {
    for (const q of [
      "name = 'it's'", // unescaped quote
      "name = 'a\\n'", // unknown escape
      "name = 'open", // unterminated
      "name == 'a'",
      "size = '3'",
      'trashed = maybe',
      "name = 'a' and",
      "('x' in parents",
      "'x' in owners",
    ]) {
      const { status, body } = await h.json<{
        error: { errors: Array<{ reason: string; location: string }> };
      }>(listQ(q));
      expect(status, q).toBe(400);
      expect(body.error.errors[0]).toEqual(expect.objectContaining({ reason: 'invalid', location: 'q' }));
    }
  });

  it('q: mimeType = and !=, or, not, parentheses, trashed', async () => {
    const parent = await createFolder(h, 'mixed');
    const f1 = await createFolder(h, 'one', parent);
    const file = await h.json<{ id: string }>(
      'drive/v3/files',
      jsonBody({ name: 'two', parents: [parent], mimeType: 'text/plain' }),
    );
    const p = `'${parent}' in parents`;
    const folders = await h.json<FileList>(listQ(`${p} and mimeType = '${FOLDER}'`, '&fields=files(id)'));
    expect(folders.body.files).toEqual([{ id: f1 }]);
    const nonFolders = await h.json<FileList>(listQ(`${p} and mimeType != '${FOLDER}'`, '&fields=files(id)'));
    expect(nonFolders.body.files).toEqual([{ id: file.body.id }]);
    const either = await h.json<FileList>(
      listQ(`${p} and (name = 'one' or name = 'two')`, '&fields=files(id)&orderBy=name'),
    );
    expect(either.body.files).toEqual([{ id: f1 }, { id: file.body.id }]);
    const not = await h.json<FileList>(listQ(`${p} and not name = 'one'`, '&fields=files(id)'));
    expect(not.body.files).toEqual([{ id: file.body.id }]);
    expect(
      (
        await h.json(`drive/v3/files/${f1}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: '{"trashed":true}',
        })
      ).status,
    ).toBe(200);
    const live = await h.json<FileList>(listQ(`${p} and trashed = false`, '&fields=files(id)'));
    expect(live.body.files).toEqual([{ id: file.body.id }]);
    const trashed = await h.json<FileList>(listQ(`${p} and trashed = true`, '&fields=files(id,trashed)'));
    expect(trashed.body.files).toEqual([{ id: f1, trashed: true }]);
  });

  it('the q parser itself: precedence of and over or', () => {
    const item = {
      name: 'a',
      mimeType: 'x',
      parents: ['p'],
      trashed: false,
      createdTime: '',
      modifiedTime: '',
    };
    expect(parseQuery("name = 'b' and name = 'c' or name = 'a'")(item)).toBe(true);
    expect(parseQuery("name = 'b' and (name = 'c' or name = 'a')")(item)).toBe(false);
    expect(() => parseQuery("name = 'a' name = 'b'")).toThrow(QueryError);
  });

  it('paging: pageSize, nextPageToken tied to the query, wrong token 400, pageSize range', async () => {
    const parent = await createFolder(h, 'paged');
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) ids.push(await createFolder(h, `f${i}`, parent));
    const q = `'${parent}' in parents`;
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await h.json<FileList>(
        listQ(
          q,
          `&pageSize=3&orderBy=createdTime&fields=files(id),nextPageToken${token ? `&pageToken=${token}` : ''}`,
        ),
      );
      expect(status).toBe(200);
      seen.push(...body.files.map((f) => f.id as string));
      token = body.nextPageToken;
      pages += 1;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
    const first = await h.json<FileList>(listQ(q, '&pageSize=3&orderBy=createdTime'));
    const other = await h.json(
      listQ(
        `${q} and trashed = false`,
        `&pageSize=3&orderBy=createdTime&pageToken=${first.body.nextPageToken}`,
      ),
    );
    expect(other.status).toBe(400);
    expect((await h.json(listQ(q, '&pageToken=garbage'))).status).toBe(400);
    expect((await h.json(listQ(q, '&pageSize=0'))).status).toBe(400);
    expect((await h.json(listQ(q, '&pageSize=1001'))).status).toBe(400);
    // Without fields, the default list shape.
    expect(first.body).toEqual({
      kind: 'drive#fileList',
      incompleteSearch: false,
      nextPageToken: expect.any(String),
      files: expect.arrayContaining([{ kind: 'drive#file', id: ids[0], name: 'f0', mimeType: FOLDER }]),
    });
  });

  it('orderBy name and name desc; unknown orderBy 400', async () => {
    const parent = await createFolder(h, 'ordered');
    for (const n of ['b', 'c', 'a']) await createFolder(h, n, parent);
    const names = async (order: string): Promise<unknown[]> =>
      (
        await h.json<FileList>(
          listQ(`'${parent}' in parents`, `&orderBy=${encodeURIComponent(order)}&fields=files(name)`),
        )
      ).body.files.map((f) => f.name);
    expect(await names('name')).toEqual(['a', 'b', 'c']);
    expect(await names('name desc')).toEqual(['c', 'b', 'a']);
    expect(await names('createdTime')).toEqual(['b', 'c', 'a']);
    expect((await h.json(listQ(`'${parent}' in parents`, '&orderBy=size'))).status).toBe(400);
  });

  it('fields: parser, nested selections, unknown field 400, default get fields', async () => {
    const id = await createFolder(h, 'fielded');
    expect((await h.json(`drive/v3/files/${id}`)).body).toEqual({
      kind: 'drive#file',
      id,
      name: 'fielded',
      mimeType: FOLDER,
    });
    expect((await h.json(`drive/v3/files/${id}?fields=id,name,size`)).body).toEqual({ id, name: 'fielded' });
    const star = (await h.json(`drive/v3/files/${id}?fields=*`)).body;
    expect(star).toEqual(
      expect.objectContaining({
        id,
        trashed: false,
        parents: [expect.any(String)],
        createdTime: expect.any(String),
      }),
    );
    expect(star.size).toBeUndefined();
    expect(star.md5Checksum).toBeUndefined();
    const bad = await h.json<{ error: { errors: Array<{ reason: string }> } }>(
      `drive/v3/files/${id}?fields=id,nmae`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.errors[0]!.reason).toBe('invalidParameter');
    expect((await h.json(`drive/v3/files/${id}?fields=files(id`)).status).toBe(400);
    // A bad selection on create or update is refused before anything changes.
    const named = (name: string): Promise<{ status: number; body: { files: unknown[] } }> =>
      h.json(`drive/v3/files?q=${encodeURIComponent(`name = '${name}'`)}`);
    expect((await h.json('drive/v3/files?fields=nmae', jsonBody({ name: 'never-made' }))).status).toBe(400);
    expect((await named('never-made')).body.files).toEqual([]);
    const patch = { ...jsonBody({ name: 'never-renamed' }), method: 'PATCH' };
    expect((await h.json(`drive/v3/files/${id}?fields=id(x)`, patch)).status).toBe(400);
    expect((await named('never-renamed')).body.files).toEqual([]);
    expect((await h.json('drive/v3/about?fields=user/emailAddress')).body).toEqual({
      user: { emailAddress: 'admin@example.com' },
    });
  });

  it('about.get requires fields; storageQuota strings; limit absent when unlimited', async () => {
    const missing = await h.json<{ error: { errors: Array<{ reason: string }> } }>('drive/v3/about');
    expect(missing.status).toBe(400);
    expect(missing.body.error.errors[0]!.reason).toBe('required');
    const user = await h.json('drive/v3/about?fields=user');
    expect(user.body).toEqual({
      user: {
        kind: 'drive#user',
        displayName: 'admin',
        me: true,
        permissionId: expect.any(String),
        emailAddress: 'admin@example.com',
      },
    });
    h.sandbox.setQuota(null);
    const q = await h.json<{ storageQuota: Record<string, string> }>('drive/v3/about?fields=storageQuota');
    expect(q.body.storageQuota.limit).toBeUndefined();
    expect(q.body.storageQuota.usage).toMatch(/^\d+$/);
    h.sandbox.setQuota(15 * 1024 ** 3);
  });

  it('files.update renames and trashes (children follow); files.delete is recursive, unknown 404', async () => {
    const top = await createFolder(h, 'to-trash');
    const child = await createFolder(h, 'child', top);
    const patch = (id: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> =>
      h.json(`drive/v3/files/${id}?fields=name,trashed`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await patch(top, { name: 'renamed' })).body).toEqual({ name: 'renamed', trashed: false });
    expect((await patch(top, { trashed: true })).body).toEqual({ name: 'renamed', trashed: true });
    expect((await h.json(`drive/v3/files/${child}?fields=trashed`)).body).toEqual({ trashed: true });
    expect((await patch(top, { trashed: false })).body.trashed).toBe(false);
    expect((await patch(top, { size: '3' })).status).toBe(400);
    // A refused update changes nothing, not even the parts of it that were valid.
    expect((await patch(top, { name: 'half-done', trashed: 'yes' })).status).toBe(400);
    const moved = await h.json(`drive/v3/files/${top}?addParents=nope&removeParents=root`, {
      ...jsonBody({ name: 'half-moved', trashed: true }),
      method: 'PATCH',
    });
    expect(moved.status).toBe(404);
    expect((await h.json(`drive/v3/files/${top}?fields=name,trashed`)).body).toEqual({
      name: 'renamed',
      trashed: false,
    });
    const del = await h.api(`drive/v3/files/${top}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(await del.text()).toBe('');
    expect((await h.json(`drive/v3/files/${child}`)).status).toBe(404);
    expect(h.sandbox.items().some((i) => i.id === child || i.id === top)).toBe(false);
    expect((await h.api(`drive/v3/files/${top}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('drive.readonly may read but not write (403 insufficientPermissions)', async () => {
    const ro = await tokenFor(h.sandbox, 'https://www.googleapis.com/auth/drive.readonly');
    const list = await fetch(`${h.sandbox.url}drive/v3/files?fields=files(id)`, {
      headers: bearer(ro.token),
    });
    expect(list.status).toBe(200);
    const create = await fetch(`${h.sandbox.url}drive/v3/files`, {
      method: 'POST',
      headers: bearer(ro.token, { 'content-type': 'application/json' }),
      body: JSON.stringify({ name: 'x', mimeType: FOLDER }),
    });
    expect(create.status).toBe(403);
    const body = (await create.json()) as { error: { errors: Array<{ reason: string }> } };
    expect(body.error.errors[0]!.reason).toBe('insufficientPermissions');
  });

  it('unknown routes are 404; an upload without a supported uploadType is 400', async () => {
    expect((await h.api('drive/v2/files')).status).toBe(404);
    expect((await h.api('drive/v3/files/x/comments')).status).toBe(404);
    const unknown = await h.api('upload/drive/v3/files?uploadType=simple', { method: 'POST', body: 'x' });
    expect(unknown.status).toBe(400);
    const noType = await h.api('upload/drive/v3/files', { method: 'POST', body: 'x' });
    expect(noType.status).toBe(400);
    expect((await h.api('drive/v3/files/x?alt=proto')).status).toBe(400);
  });

  it('quota: a write beyond the limit is 403 storageQuotaExceeded', async () => {
    const used = Number(
      (await h.json<{ storageQuota: { usage: string } }>('drive/v3/about?fields=storageQuota')).body
        .storageQuota.usage,
    );
    h.sandbox.setQuota(used + 1000);
    try {
      const start = await h.api('upload/drive/v3/files?uploadType=resumable', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-upload-content-length': '2000' },
        body: JSON.stringify({ name: 'big' }),
      });
      expect(start.status).toBe(403);
      expect(
        ((await start.json()) as { error: { errors: Array<{ reason: string }> } }).error.errors[0]!.reason,
      ).toBe('storageQuotaExceeded');
      const session = await startUpload(h, { name: 'big2' });
      const put = await putChunk(h, session, 'bytes 0-1999/2000', Buffer.alloc(2000));
      expect(put.status).toBe(403);
      expect(
        ((await put.json()) as { error: { errors: Array<{ reason: string }> } }).error.errors[0]!.reason,
      ).toBe('storageQuotaExceeded');
      const fits = await putChunk(h, session, 'bytes */*', Buffer.alloc(0));
      expect(fits.status).toBe(308);
      expect(fits.headers.get('range')).toBeNull();
    } finally {
      h.sandbox.setQuota(15 * 1024 ** 3);
    }
  });
});

describe('visibility', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h.close());

  it('shared drives: listed only with supportsAllDrives + includeItemsFromAllDrives + corpora=drive; 404 without supportsAllDrives', async () => {
    const driveId = h.sandbox.createSharedDrive('Team');
    const drive = await h.json(`drive/v3/drives/${driveId}`);
    expect(drive.body).toEqual({ kind: 'drive#drive', id: driveId, name: 'Team' });
    expect((await h.json('drive/v3/drives/nope')).status).toBe(404);
    // Create without supportsAllDrives: the drive does not exist for this call.
    const refused = await h.json(
      'drive/v3/files',
      jsonBody({ name: 'x', mimeType: FOLDER, parents: [driveId] }),
    );
    expect(refused.status).toBe(404);
    const folder = await createFolder(h, 'in-team', driveId, '?supportsAllDrives=true');
    expect(h.sandbox.items().find((i) => i.id === folder)!.driveId).toBe(driveId);
    expect((await h.json(`drive/v3/files/${folder}`)).status).toBe(404);
    expect((await h.json(`drive/v3/files/${folder}?supportsAllDrives=true&fields=id,driveId`)).body).toEqual({
      id: folder,
      driveId,
    });
    const q = encodeURIComponent(`'${driveId}' in parents`);
    const plain = await h.json<FileList>(`drive/v3/files?q=${q}`);
    expect(plain.body.files).toEqual([]);
    const all = await h.json<FileList>(
      `drive/v3/files?q=${q}&supportsAllDrives=true&includeItemsFromAllDrives=true&corpora=drive&driveId=${driveId}&fields=files(id)`,
    );
    expect(all.body.files).toEqual([{ id: folder }]);
    // Half the parameters is a 400, as at Google.
    expect((await h.json(`drive/v3/files?q=${q}&corpora=drive&driveId=${driveId}`)).status).toBe(400);
    expect((await h.json(`drive/v3/files?q=${q}&includeItemsFromAllDrives=true`)).status).toBe(400);
    expect((await h.api(`drive/v3/files/${folder}`, { method: 'DELETE' })).status).toBe(404);
    expect(
      (await h.api(`drive/v3/files/${folder}?supportsAllDrives=true`, { method: 'DELETE' })).status,
    ).toBe(204);
  });

  it('drive.file: items of another client are 404 and unlisted; scope drive sees everything', async () => {
    const other = await harness({ otherClients: { 'other-app': 'other-secret' } });
    try {
      const sb = other.sandbox;
      const theirRefresh = sb.issueRefreshToken({ clientId: 'other-app' });
      const their = await accessToken(sb, theirRefresh, { id: 'other-app', secret: 'other-secret' });
      const theirToken = their.body.access_token as string;
      const made = await fetch(`${sb.url}drive/v3/files`, {
        method: 'POST',
        headers: bearer(theirToken, { 'content-type': 'application/json' }),
        body: JSON.stringify({ name: 'theirs', mimeType: FOLDER }),
      });
      const theirs = ((await made.json()) as { id: string }).id;
      const mine = await createFolder(other, 'mine');
      // The other app sees its own folder, not ours.
      const theirList = await fetch(`${sb.url}drive/v3/files?fields=files(name)`, {
        headers: bearer(theirToken),
      });
      const theirBody = (await theirList.json()) as FileList;
      expect(theirBody.files, JSON.stringify(theirBody)).toEqual([{ name: 'theirs' }]);
      // Ours: their folder does not exist for us.
      expect((await other.json(`drive/v3/files/${theirs}`)).status).toBe(404);
      expect((await other.api(`drive/v3/files/${theirs}`, { method: 'DELETE' })).status).toBe(404);
      expect((await other.json('drive/v3/files', jsonBody({ name: 'c', parents: [theirs] }))).status).toBe(
        404,
      );
      expect((await other.json<FileList>('drive/v3/files?fields=files(id)')).body.files).toEqual([
        { id: mine },
      ]);
      // The root is visible to both.
      expect((await other.json('drive/v3/files/root?fields=id')).status).toBe(200);
      // Full scope of our client sees everything.
      const full = await tokenFor(sb, SCOPE_FULL);
      const fullList = await fetch(`${sb.url}drive/v3/files?fields=files(name)&orderBy=name`, {
        headers: bearer(full.token),
      });
      expect(((await fullList.json()) as FileList).files).toEqual([{ name: 'mine' }, { name: 'theirs' }]);
      expect((await accessToken(sb, full.refreshToken)).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});
