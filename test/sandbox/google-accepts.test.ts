// Requests Google accepts that the sandbox once refused (found by running rclone against it):
// documented File fields in `fields`, chunks POSTed to the session URI, an empty `fields=`,
// modifiedTime set by the client, multipart bodies over 5 MiB, and new content for an existing
// file through PATCH upload/drive/v3/files/{id}. Sources are in shared/reference/google-drive-facts.md.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createFolder,
  type Harness,
  harness,
  jsonBody,
  KIB256,
  pattern,
  startUpload,
  uploadFile,
} from './helpers.js';

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

function multipart(metadata: Record<string, unknown>, media: Buffer, boundary = 'sep_42'): RequestInit {
  return {
    headers: { 'content-type': `multipart/related; boundary=${boundary}` },
    body: Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(metadata)}\r\n` +
          `--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      media,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
}

interface FileBody {
  id: string;
  name: string;
  size: string;
  md5Checksum: string;
  modifiedTime: string;
  mimeType: string;
}

describe('what Google accepts, the sandbox accepts', () => {
  let h: Harness;
  let folder: string;
  beforeAll(async () => {
    h = await harness();
    folder = await createFolder(h, 'accepts');
  });
  afterAll(() => h.close());

  it('fields may name any documented File field, nested ones too; an unknown one is still 400', async () => {
    const id = await uploadFile(h, 'f.bin', Buffer.from('abc'));
    const wanted =
      'id,shortcutDetails,exportLinks,resourceKey,webViewLink,capabilities(canEdit,canDownload),' +
      'permissions(role,permissionDetails(role)),labelInfo(labels(id)),contentHints/thumbnail/image,' +
      'imageMediaMetadata(location(altitude)),owners(emailAddress),lastModifyingUser,trashingUser';
    const get = await h.json(`drive/v3/files/${id}?fields=${encodeURIComponent(wanted)}`);
    expect(get.status).toBe(200);
    expect(get.body).toEqual(
      expect.objectContaining({ id, capabilities: { canEdit: true, canDownload: true } }),
    );
    const list = await h.json<{ files: unknown[] }>(
      `drive/v3/files?fields=${encodeURIComponent(`nextPageToken,incompleteSearch,files(${wanted})`)}`,
    );
    expect(list.status).toBe(200);
    expect(list.body.files.length).toBeGreaterThan(0);
    for (const bad of ['capabilities(canFly)', 'shortcutDetails(target)', 'resourceKey(x)', 'iconLinks']) {
      expect((await h.json(`drive/v3/files/${id}?fields=${bad}`)).status, bad).toBe(400);
    }
  });

  it('an empty fields= on update and delete answers as without it', async () => {
    const id = await uploadFile(h, 'empty-fields.bin', Buffer.from('x'));
    const patch = await h.json(`drive/v3/files/${id}?fields=`, {
      ...jsonBody({ name: 'renamed.bin' }),
      method: 'PATCH',
    });
    expect(patch.status).toBe(200);
    expect(patch.body).toEqual({
      kind: 'drive#file',
      id,
      name: 'renamed.bin',
      mimeType: 'application/octet-stream',
    });
    expect((await h.api(`drive/v3/files/${id}?fields=`, { method: 'DELETE' })).status).toBe(204);
    expect((await h.api(`drive/v3/files/${id}`)).status).toBe(404);
  });

  it('chunks may be POSTed to the session URI, as Google Go client and rclone send them', async () => {
    const data = pattern(KIB256 + 1000, 3);
    const session = await startUpload(h, { name: 'posted.bin', parents: [folder] }, '&fields=id,md5Checksum');
    const first = await fetch(session, {
      method: 'POST',
      headers: bearer(h.token, { 'content-range': `bytes 0-${KIB256 - 1}/${data.length}` }),
      body: data.subarray(0, KIB256),
    });
    expect(first.status).toBe(308);
    expect(first.headers.get('range')).toBe(`bytes=0-${KIB256 - 1}`);
    const status = await fetch(session, {
      method: 'POST',
      headers: bearer(h.token, { 'content-range': 'bytes */*' }),
    });
    expect(status.status).toBe(308);
    const last = await fetch(session, {
      method: 'POST',
      headers: bearer(h.token, { 'content-range': `bytes ${KIB256}-${data.length - 1}/${data.length}` }),
      body: data.subarray(KIB256),
    });
    expect(last.status).toBe(200);
    expect(((await last.json()) as FileBody).md5Checksum).toBe(md5(data));
    expect(h.sandbox.counters()['upload.status']).toBeGreaterThan(0);
  });

  it('X-GUploader-No-308: yes turns 308 into 200 with X-HTTP-Status-Code-Override (Google Go client)', async () => {
    const data = pattern(KIB256 + 3, 4);
    const session = await startUpload(h, { name: 'no308.bin' }, '&fields=id,md5Checksum');
    const headers = (range: string) =>
      bearer(h.token, { 'content-range': range, 'x-guploader-no-308': 'yes' });
    const first = await fetch(session, {
      method: 'POST',
      headers: headers(`bytes 0-${KIB256 - 1}/*`),
      body: data.subarray(0, KIB256),
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-http-status-code-override')).toBe('308');
    expect(first.headers.get('range')).toBe(`bytes=0-${KIB256 - 1}`);
    const last = await fetch(session, {
      method: 'POST',
      headers: headers(`bytes ${KIB256}-${data.length - 1}/${data.length}`),
      body: data.subarray(KIB256),
    });
    expect(last.status).toBe(200);
    expect(last.headers.get('x-http-status-code-override')).toBeNull();
    expect(((await last.json()) as FileBody).md5Checksum).toBe(md5(data));
  });

  it('modifiedTime set on create (metadata, multipart, resumable) and on update is stored and answered', async () => {
    const t1 = '2023-04-05T06:07:08.123Z';
    const f = '?fields=id,modifiedTime';
    const made = await h.json<FileBody>(`drive/v3/files${f}`, jsonBody({ name: 'm0', modifiedTime: t1 }));
    expect(made.body.modifiedTime).toBe(t1);
    const multi = await h.json<FileBody>(
      `upload/drive/v3/files?uploadType=multipart&fields=id,modifiedTime`,
      {
        method: 'POST',
        ...multipart({ name: 'm1', modifiedTime: '2023-04-05T08:07:08+02:00' }, Buffer.from('m1')),
      },
    );
    expect(multi.body.modifiedTime).toBe('2023-04-05T06:07:08.000Z');
    const session = await startUpload(h, { name: 'm2', modifiedTime: t1 }, '&fields=id,modifiedTime');
    const done = await fetch(session, {
      method: 'PUT',
      headers: bearer(h.token, { 'content-range': 'bytes 0-1/2' }),
      body: 'm2',
    });
    expect(((await done.json()) as FileBody).modifiedTime).toBe(t1);
    const t2 = '2024-01-02T03:04:05.000Z';
    const updated = await h.json<FileBody>(`drive/v3/files/${made.body.id}${f}`, {
      ...jsonBody({ modifiedTime: t2 }),
      method: 'PATCH',
    });
    expect(updated.body.modifiedTime).toBe(t2);
    expect((await h.json<FileBody>(`drive/v3/files/${made.body.id}${f}`)).body.modifiedTime).toBe(t2);
    const bad = await h.json(`drive/v3/files/${made.body.id}`, {
      ...jsonBody({ modifiedTime: 'yesterday' }),
      method: 'PATCH',
    });
    expect(bad.status).toBe(400);
    expect((await h.json<FileBody>(`drive/v3/files/${made.body.id}${f}`)).body.modifiedTime).toBe(t2);
  });

  it('a multipart upload larger than 5 MiB is stored whole (the 5 MB is advice, not a limit)', async () => {
    const data = pattern(6 * 1024 * 1024 + 17, 5);
    const res = await h.json<FileBody>(
      'upload/drive/v3/files?uploadType=multipart&fields=id,size,md5Checksum',
      {
        method: 'POST',
        ...multipart({ name: 'big-multipart.bin', parents: [folder] }, data),
      },
    );
    expect(res.status).toBe(200);
    expect(res.body.size).toBe(String(data.length));
    expect(res.body.md5Checksum).toBe(md5(data));
    expect(readFileSync(h.sandbox.contentPath(res.body.id)).equals(data)).toBe(true);
  });

  it('a media part that holds the boundary text without the CRLF before it is kept intact; a third part is 400', async () => {
    const data = Buffer.from('a--sep_42 b\r\n-sep_42\r\n--sep_4');
    const res = await h.json<FileBody>('upload/drive/v3/files?uploadType=multipart&fields=id,md5Checksum', {
      method: 'POST',
      ...multipart({ name: 'tricky.bin' }, data),
    });
    expect(res.status).toBe(200);
    expect(res.body.md5Checksum).toBe(md5(data));
    const three = multipart({ name: 'three.bin' }, Buffer.from('x'));
    const body = Buffer.concat([
      (three.body as Buffer).subarray(0, -'--\r\n'.length),
      Buffer.from('\r\nContent-Type: text/plain\r\n\r\nmore\r\n--sep_42--'),
    ]);
    const refused = await h.api('upload/drive/v3/files?uploadType=multipart', {
      method: 'POST',
      headers: three.headers as Record<string, string>,
      body,
    });
    expect(refused.status).toBe(400);
    expect(h.sandbox.items().some((i) => i.name === 'three.bin')).toBe(false);
  });

  it('PATCH upload/drive/v3/files/{id} replaces the content: multipart, media, resumable', async () => {
    const id = await uploadFile(h, 'replace-me.bin', Buffer.from('old content'));
    const fields = 'fields=id,name,size,md5Checksum,modifiedTime';

    const v2 = Buffer.from('second version');
    const multi = await h.json<FileBody>(`upload/drive/v3/files/${id}?uploadType=multipart&${fields}`, {
      method: 'PATCH',
      ...multipart({ name: 'replaced.bin', modifiedTime: '2022-02-02T02:02:02.000Z' }, v2),
    });
    expect(multi.status).toBe(200);
    expect(multi.body).toEqual({
      id,
      name: 'replaced.bin',
      size: String(v2.length),
      md5Checksum: md5(v2),
      modifiedTime: '2022-02-02T02:02:02.000Z',
    });

    const v3 = pattern(1000, 8);
    const media = await h.json<FileBody>(`upload/drive/v3/files/${id}?uploadType=media&${fields}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream' },
      body: v3,
    });
    expect(media.status).toBe(200);
    expect(media.body).toEqual(expect.objectContaining({ id, name: 'replaced.bin', md5Checksum: md5(v3) }));

    const v4 = pattern(KIB256 + 5, 9);
    const start = await h.api(`upload/drive/v3/files/${id}?uploadType=resumable&${fields}`, {
      method: 'PATCH',
      headers: {
        'content-type': 'application/json; charset=UTF-8',
        'x-upload-content-length': String(v4.length),
      },
      body: JSON.stringify({ name: 'resumed.bin' }),
    });
    expect(start.status).toBe(200);
    const session = start.headers.get('location')!;
    expect(session).toContain(`upload/drive/v3/files/${id}?uploadType=resumable&upload_id=`);
    const part = await fetch(session, {
      method: 'PUT',
      headers: bearer(h.token, { 'content-range': `bytes 0-${KIB256 - 1}/${v4.length}` }),
      body: v4.subarray(0, KIB256),
    });
    expect(part.status).toBe(308);
    // Until the upload finishes, the file keeps its old content and name.
    expect(h.sandbox.items().find((i) => i.id === id)).toEqual(
      expect.objectContaining({ name: 'replaced.bin', md5: md5(v3) }),
    );
    const end = await fetch(session, {
      method: 'PUT',
      headers: bearer(h.token, { 'content-range': `bytes ${KIB256}-${v4.length - 1}/${v4.length}` }),
      body: v4.subarray(KIB256),
    });
    expect(end.status).toBe(200);
    expect(await end.json()).toEqual(
      expect.objectContaining({ id, name: 'resumed.bin', size: String(v4.length), md5Checksum: md5(v4) }),
    );
    expect(readFileSync(h.sandbox.contentPath(id)).equals(v4)).toBe(true);
    expect(h.sandbox.items().filter((i) => i.name === 'resumed.bin')).toHaveLength(1);
  });

  it('PATCH upload of an unknown file is 404, of a folder 400, and POST to a file id is not a route', async () => {
    const put = (path: string, method = 'PATCH') =>
      h.api(path, { method, headers: { 'content-type': 'application/octet-stream' }, body: 'x' });
    expect((await put('upload/drive/v3/files/nope?uploadType=media')).status).toBe(404);
    expect((await put(`upload/drive/v3/files/${folder}?uploadType=media`)).status).toBe(400);
    expect((await put(`upload/drive/v3/files/${folder}?uploadType=media`, 'POST')).status).toBe(400);
    expect(h.sandbox.items().find((i) => i.id === folder)?.mimeType).toBe(
      'application/vnd.google-apps.folder',
    );
  });

  it('POST uploadType=media makes a file named Untitled of the body', async () => {
    const res = await h.json<FileBody>(
      'upload/drive/v3/files?uploadType=media&fields=id,name,mimeType,md5Checksum',
      {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'hello',
      },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      expect.objectContaining({
        name: 'Untitled',
        mimeType: 'text/plain',
        md5Checksum: md5(Buffer.from('hello')),
      }),
    );
  });
});

describe('publicUrl', () => {
  it('session URIs point at the API root clients see', async () => {
    const h = await harness({ publicUrl: 'https://www.googleapis.com' });
    try {
      const session = await startUpload(h, { name: 'p.bin' });
      expect(session).toMatch(
        /^https:\/\/www\.googleapis\.com\/upload\/drive\/v3\/files\?uploadType=resumable&upload_id=/,
      );
    } finally {
      await h.close();
    }
  });
});
