// files.get?alt=media: whole body, byte ranges (206 + Content-Range), 416, folders refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFolder, type Harness, harness, KIB256, pattern, uploadFile } from './helpers.js';

describe('download', () => {
  let h: Harness;
  let id: string;
  const data = pattern(KIB256 + 777, 5);
  beforeAll(async () => {
    h = await harness();
    id = await uploadFile(h, 'dl.bin', data);
  });
  afterAll(() => h.close());

  const get = (range?: string): Promise<Response> =>
    h.api(`drive/v3/files/${id}?alt=media`, range ? { headers: { range } } : {});

  it('without Range: 200 and every byte', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });

  it('bytes=a-b, a- and -n: 206 with Content-Range and exactly that slice', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-', 1000, data.length - 1],
      ['bytes=-500', data.length - 500, data.length - 1],
      [`bytes=5-${data.length + 100}`, 5, data.length - 1],
    ];
    for (const [range, a, b] of cases) {
      const res = await get(range);
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${a}-${b}/${data.length}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(data.subarray(a, b + 1)), range).toBe(true);
    }
  });

  it('an unsatisfiable range is 416 with Content-Range bytes */size', async () => {
    const res = await get(`bytes=${data.length}-`);
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${data.length}`);
  });

  it('a folder is 403 fileNotDownloadable; an unknown id 404', async () => {
    const folder = await createFolder(h, 'nodl');
    const res = await h.api(`drive/v3/files/${folder}?alt=media`);
    expect(res.status).toBe(403);
    expect(
      ((await res.json()) as { error: { errors: Array<{ reason: string }> } }).error.errors[0]!.reason,
    ).toBe('fileNotDownloadable');
    expect((await h.api('drive/v3/files/nope?alt=media')).status).toBe(404);
  });

  it('several ranges of one file in parallel over separate connections', async () => {
    const slices = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const a = i * 50_000;
        const res = await get(`bytes=${a}-${a + 49_999}`);
        return Buffer.from(await res.arrayBuffer());
      }),
    );
    expect(Buffer.concat(slices).equals(data.subarray(0, 200_000))).toBe(true);
  });
});
