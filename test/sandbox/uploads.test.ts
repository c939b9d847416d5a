// Every upload rule: resumable start/chunk/status/final, the 256 KiB rule, gaps and overlaps,
// totals, zero-byte files, finished and unknown sessions, multipart.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accessToken,
  bearer,
  createFolder,
  type Harness,
  harness,
  KIB256,
  pattern,
  putChunk,
  startUpload,
} from './helpers.js';

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A raw PUT whose headers we control fully (fetch always sets Content-Length itself). */
function rawPut(
  url: string,
  headers: Record<string, string>,
  body: Buffer | null,
  options: { abortAfter?: number } = {},
): Promise<
  { status: number; headers: Record<string, string | string[] | undefined>; text: string } | 'aborted'
> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', (e) => (options.abortAfter !== undefined ? resolve('aborted') : reject(e)));
    if (options.abortAfter !== undefined && body) {
      req.write(body.subarray(0, options.abortAfter), () => {
        // Give the bytes time to reach the server's file, then vanish mid-body.
        setTimeout(() => {
          req.destroy();
          resolve('aborted');
        }, 100);
      });
      return;
    }
    req.end(body ?? undefined);
  });
}

async function status(h: Harness, session: string, range = 'bytes */*'): Promise<Response> {
  return putChunk(h, session, range, Buffer.alloc(0));
}

describe('resumable upload', () => {
  let h: Harness;
  let folder: string;
  beforeAll(async () => {
    h = await harness();
    folder = await createFolder(h, 'uploads');
  });
  afterAll(() => h.close());

  it('start answers 200 with the session URI in Location; no Range while nothing is persisted', async () => {
    const res = await h.api('upload/drive/v3/files?uploadType=resumable', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 's', parents: [folder] }),
    });
    expect(res.status).toBe(200);
    const location = res.headers.get('location')!;
    expect(location).toMatch(
      new RegExp(`^${h.sandbox.url}upload/drive/v3/files\\?uploadType=resumable&upload_id=[\\w-]+$`),
    );
    const st = await status(h, location);
    expect(st.status).toBe(308);
    expect(st.headers.get('range')).toBeNull();
  });

  it('start refuses an unknown parent (404) and a bad X-Upload-Content-Length (400)', async () => {
    const bad = await h.api('upload/drive/v3/files?uploadType=resumable', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 's', parents: ['nope'] }),
    });
    expect(bad.status).toBe(404);
    const len = await h.api('upload/drive/v3/files?uploadType=resumable', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-upload-content-length': 'ten' },
      body: JSON.stringify({ name: 's' }),
    });
    expect(len.status).toBe(400);
  });

  it('chunks of 256 KiB multiples, 308 with the persisted Range, final 200 with the session fields and checksums', async () => {
    const data = pattern(KIB256 * 3 + 12345, 7);
    const session = await startUpload(
      h,
      { name: 'full.tar', parents: [folder] },
      '&fields=id,name,size,md5Checksum,sha256Checksum,parents,mimeType',
      { 'x-upload-content-type': 'application/x-tar', 'x-upload-content-length': String(data.length) },
    );
    const r1 = await putChunk(h, session, `bytes 0-${2 * KIB256 - 1}/*`, data.subarray(0, 2 * KIB256));
    expect(r1.status).toBe(308);
    expect(r1.headers.get('range')).toBe(`bytes=0-${2 * KIB256 - 1}`);
    const r2 = await putChunk(
      h,
      session,
      `bytes ${2 * KIB256}-${data.length - 1}/${data.length}`,
      data.subarray(2 * KIB256),
    );
    expect(r2.status).toBe(200);
    const body = (await r2.json()) as Record<string, unknown>;
    expect(body).toEqual({
      id: expect.any(String),
      name: 'full.tar',
      mimeType: 'application/x-tar',
      parents: [folder],
      size: String(data.length),
      md5Checksum: md5(data),
      sha256Checksum: sha256(data),
    });
    expect(readFileSync(h.sandbox.contentPath(body.id as string)).equals(data)).toBe(true);
    // A finished session answers the resource again, for a status query and for a repeated chunk.
    const again = await status(h, session);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(body.id);
    const repeat = await putChunk(
      h,
      session,
      `bytes ${2 * KIB256}-${data.length - 1}/${data.length}`,
      data.subarray(2 * KIB256),
    );
    expect(repeat.status).toBe(200);
    expect(h.sandbox.items().filter((i) => i.name === 'full.tar')).toHaveLength(1);
  });

  it('a non-final chunk that is not a multiple of 256 KiB is 400 and nothing of it is kept', async () => {
    const session = await startUpload(h, { name: 'odd' });
    const res = await putChunk(h, session, `bytes 0-${KIB256}/*`, pattern(KIB256 + 1));
    expect(res.status).toBe(400);
    const st = await status(h, session);
    expect(st.status).toBe(308);
    expect(st.headers.get('range')).toBeNull();
    // With a known total, a short non-final chunk is refused too.
    const res2 = await putChunk(h, session, `bytes 0-999/5000`, pattern(1000));
    expect(res2.status).toBe(400);
  });

  it('Content-Length must equal the range length', async () => {
    const session = await startUpload(h, { name: 'len' });
    const res = await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, pattern(1000));
    expect(res.status).toBe(400);
    const raw = await rawPut(
      session,
      { ...bearer(h.token), 'content-range': `bytes 0-${KIB256 - 1}/*` },
      null,
    );
    expect(raw !== 'aborted' && raw.status).toBe(400);
  });

  it('a request without Content-Length (chunked) is refused', async () => {
    const session = await startUpload(h, { name: 'chunked' });
    const raw = await rawPut(
      session,
      { ...bearer(h.token), 'content-range': `bytes 0-${KIB256 - 1}/*`, 'transfer-encoding': 'chunked' },
      pattern(KIB256),
    );
    expect(raw !== 'aborted' && raw.status).toBe(411);
  });

  it('a gap is 400; an overlap is accepted and the persisted bytes are skipped', async () => {
    const data = pattern(KIB256 * 3, 3);
    const session = await startUpload(h, { name: 'overlap', parents: [folder] }, '&fields=id,sha256Checksum');
    expect((await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, data.subarray(0, KIB256))).status).toBe(
      308,
    );
    const gap = await putChunk(
      h,
      session,
      `bytes ${2 * KIB256}-${3 * KIB256 - 1}/*`,
      data.subarray(2 * KIB256),
    );
    expect(gap.status).toBe(400);
    // Resend from 0 (overlapping the first 256 KiB), two chunks' worth, then the rest.
    const overlap = await putChunk(h, session, `bytes 0-${2 * KIB256 - 1}/*`, data.subarray(0, 2 * KIB256));
    expect(overlap.status).toBe(308);
    expect(overlap.headers.get('range')).toBe(`bytes=0-${2 * KIB256 - 1}`);
    const last = await putChunk(
      h,
      session,
      `bytes ${2 * KIB256}-${3 * KIB256 - 1}/${3 * KIB256}`,
      data.subarray(2 * KIB256),
    );
    expect(last.status).toBe(200);
    expect(((await last.json()) as { sha256Checksum: string }).sha256Checksum).toBe(sha256(data));
  });

  it('a total that disagrees with X-Upload-Content-Length, an earlier total, or the bytes received is 400', async () => {
    const s1 = await startUpload(h, { name: 't1' }, '', { 'x-upload-content-length': String(2 * KIB256) });
    expect((await putChunk(h, s1, `bytes 0-${KIB256 - 1}/${3 * KIB256}`, pattern(KIB256))).status).toBe(400);
    expect((await putChunk(h, s1, `bytes 0-${KIB256 - 1}/${2 * KIB256}`, pattern(KIB256))).status).toBe(308);
    expect((await status(h, s1, `bytes */${3 * KIB256}`)).status).toBe(400);
    const s2 = await startUpload(h, { name: 't2' });
    expect((await putChunk(h, s2, `bytes 0-${KIB256 - 1}/${4 * KIB256}`, pattern(KIB256))).status).toBe(308);
    expect(
      (await putChunk(h, s2, `bytes ${KIB256}-${2 * KIB256 - 1}/${3 * KIB256}`, pattern(KIB256))).status,
    ).toBe(400);
    // Fewer bytes than already received.
    expect((await status(h, s2, 'bytes */100')).status).toBe(400);
    // A range beyond the total.
    expect(
      (await putChunk(h, s2, `bytes ${KIB256}-${5 * KIB256 - 1}/${4 * KIB256}`, pattern(4 * KIB256))).status,
    ).toBe(400);
    // Malformed Content-Range.
    expect((await putChunk(h, s2, 'bytes=0-1/2', pattern(2))).status).toBe(400);
  });

  it('zero-byte file: one PUT with bytes */0 and an empty body answers 200', async () => {
    const session = await startUpload(
      h,
      { name: 'empty', parents: [folder] },
      '&fields=id,size,md5Checksum,sha256Checksum',
    );
    const res = await status(h, session, 'bytes */0');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: expect.any(String),
      size: '0',
      md5Checksum: md5(Buffer.alloc(0)),
      sha256Checksum: sha256(Buffer.alloc(0)),
    });
  });

  it('status query with */total answers 308 + Range, or finishes when everything is there', async () => {
    const data = pattern(KIB256, 9);
    const session = await startUpload(h, { name: 'status' });
    expect((await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, data)).status).toBe(308);
    const st = await status(h, session, `bytes */${2 * KIB256}`);
    expect(st.status).toBe(308);
    expect(st.headers.get('range')).toBe(`bytes=0-${KIB256 - 1}`);
    // The total turned out to be what was sent: an empty PUT naming it finishes the upload.
    const s2 = await startUpload(h, { name: 'status2' }, '&fields=size');
    expect((await putChunk(h, s2, `bytes 0-${KIB256 - 1}/*`, data)).status).toBe(308);
    const done = await status(h, s2, `bytes */${KIB256}`);
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ size: String(KIB256) });
    // A status query must be empty.
    expect((await putChunk(h, session, 'bytes */*', pattern(10))).status).toBe(400);
  });

  it('unknown session 404; session of another user 404; expired session 404', async () => {
    const base = `${h.sandbox.url}upload/drive/v3/files?uploadType=resumable&upload_id=`;
    expect((await putChunk(h, `${base}nope`, 'bytes */*', Buffer.alloc(0))).status).toBe(404);
    const session = await startUpload(h, { name: 'mine' });
    const other = (
      await accessToken(h.sandbox, h.sandbox.issueRefreshToken({ email: 'someone@example.com' }))
    ).body.access_token as string;
    const foreign = await fetch(session, {
      method: 'PUT',
      headers: bearer(other, { 'content-range': 'bytes */*' }),
      body: Buffer.alloc(0),
    });
    expect(foreign.status).toBe(404);
    // Without a token at all: 401.
    const anon = await fetch(session, {
      method: 'PUT',
      headers: { 'content-range': 'bytes */*' },
      body: Buffer.alloc(0),
    });
    expect(anon.status).toBe(401);
    const short = await harness({ sessionLifetimeSec: 0 });
    try {
      expect((await status(short, await startUpload(short, { name: 'x' }))).status).toBe(404);
    } finally {
      await short.close();
    }
  });

  it('a client that vanishes mid-chunk: the status query reports what was persisted and the upload resumes', async () => {
    const data = pattern(KIB256 * 4, 11);
    const session = await startUpload(h, { name: 'vanish' }, '&fields=sha256Checksum,size');
    const aborted = await rawPut(
      session,
      {
        ...bearer(h.token),
        'content-range': `bytes 0-${4 * KIB256 - 1}/${4 * KIB256}`,
        'content-length': String(4 * KIB256),
      },
      data,
      { abortAfter: KIB256 + 5000 },
    );
    expect(aborted).toBe('aborted');
    const st = await status(h, session);
    expect(st.status).toBe(308);
    const range = st.headers.get('range');
    const persisted = range ? Number(/bytes=0-(\d+)/.exec(range)![1]) + 1 : 0;
    expect(persisted).toBeLessThanOrEqual(KIB256 + 5000);
    const rest = await putChunk(
      h,
      session,
      `bytes ${persisted}-${data.length - 1}/${data.length}`,
      data.subarray(persisted),
    );
    expect(rest.status).toBe(200);
    expect(await rest.json()).toEqual({ sha256Checksum: sha256(data), size: String(data.length) });
  });
});

describe('multipart upload', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h.close());

  const multipart = (
    boundary: string,
    meta: string,
    media: Buffer,
    metaType = 'application/json; charset=UTF-8',
  ): Buffer =>
    Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Type: ${metaType}\r\n\r\n${meta}\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\n`,
      ),
      media,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);

  it('stores metadata and media, with checksums', async () => {
    const media = Buffer.from('hello multipart\r\n--not-a-boundary\r\n');
    const res = await h.api(
      'upload/drive/v3/files?uploadType=multipart&fields=id,name,size,md5Checksum,mimeType',
      {
        method: 'POST',
        headers: { 'content-type': 'multipart/related; boundary=xyz123' },
        body: multipart('xyz123', JSON.stringify({ name: 'note.txt' }), media),
      },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(body).toEqual({
      id: expect.any(String),
      name: 'note.txt',
      size: String(media.length),
      md5Checksum: md5(media),
      mimeType: 'text/plain',
    });
    expect(readFileSync(h.sandbox.contentPath(body.id!)).equals(media)).toBe(true);
  });

  it('refuses a body that is not multipart/related, or whose first part is not JSON', async () => {
    const wrongType = await h.api('upload/drive/v3/files?uploadType=multipart', {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      body: multipart('b', '{}', Buffer.from('x')),
    });
    expect(wrongType.status).toBe(400);
    const wrongPart = await h.api('upload/drive/v3/files?uploadType=multipart', {
      method: 'POST',
      headers: { 'content-type': 'multipart/related; boundary=b' },
      body: multipart('b', '{}', Buffer.from('x'), 'text/plain'),
    });
    expect(wrongPart.status).toBe(400);
    const truncated = await h.api('upload/drive/v3/files?uploadType=multipart', {
      method: 'POST',
      headers: { 'content-type': 'multipart/related; boundary=b' },
      body: multipart('b', '{}', Buffer.from('x')).subarray(0, 40),
    });
    expect(truncated.status).toBe(400);
  });
});

describe('body limits', () => {
  it('a metadata part over 1 MiB is 400, answered cleanly after the body', async () => {
    const h = await harness();
    try {
      const res = await h.api('upload/drive/v3/files?uploadType=multipart', {
        method: 'POST',
        headers: { 'content-type': 'multipart/related; boundary=b' },
        body: Buffer.concat([
          Buffer.from('--b\r\nContent-Type: application/json\r\n\r\n{"name":"'),
          Buffer.alloc(1100 * 1024, 0x61),
          Buffer.from('"}'),
        ]),
      });
      expect(res.status).toBe(400);
      expect(h.sandbox.items()).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
