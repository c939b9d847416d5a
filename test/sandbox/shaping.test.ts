// Traffic shaping: the per-connection bandwidth cap (both directions), the added latency, and
// the server time on upload requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness, KIB256, pattern, putChunk, startUpload, uploadFile } from './helpers.js';

describe('bandwidth cap of 8 Mbit/s (1 MB/s) per connection', () => {
  let h: Harness;
  let fileId: string;
  const data = pattern(1_000_000, 41);
  beforeAll(async () => {
    h = await harness({ bandwidthMbit: 8 });
    fileId = await uploadFile(h, 'shaped', data);
  });
  afterAll(() => h.close());

  it('a 1 MB download takes about a second', async () => {
    const t0 = performance.now();
    const res = await h.api(`drive/v3/files/${fileId}?alt=media`);
    const body = Buffer.from(await res.arrayBuffer());
    const seconds = (performance.now() - t0) / 1000;
    expect(body.equals(data)).toBe(true);
    expect(seconds).toBeGreaterThan(0.8);
    expect(seconds).toBeLessThan(1.8);
  });

  it('a 1 MiB upload chunk takes about a second', async () => {
    const session = await startUpload(h, { name: 'up' });
    const t0 = performance.now();
    const res = await putChunk(h, session, `bytes 0-${4 * KIB256 - 1}/*`, pattern(4 * KIB256));
    const seconds = (performance.now() - t0) / 1000;
    expect(res.status).toBe(308);
    expect(seconds).toBeGreaterThan(0.85);
    expect(seconds).toBeLessThan(1.9);
  });

  it('the cap is per connection: two parallel downloads take about as long as one', async () => {
    const t0 = performance.now();
    await Promise.all(
      [0, 1].map(async () => {
        const res = await h.api(`drive/v3/files/${fileId}?alt=media`);
        await res.arrayBuffer();
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    expect(seconds).toBeGreaterThan(0.8);
    expect(seconds).toBeLessThan(1.8);
  });
});

describe('latency', () => {
  it('latencyMs is added before every answer', async () => {
    const h = await harness({ latencyMs: 150 });
    try {
      const t0 = performance.now();
      expect((await h.api('drive/v3/files')).status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    } finally {
      await h.close();
    }
  });
});

describe('upload request time (a Drive-like link)', () => {
  it('every upload request waits uploadRequestMs before its answer; other requests do not', async () => {
    const h = await harness({ uploadRequestMs: 400 });
    try {
      const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
        const t0 = performance.now();
        const out = await work();
        return [out, performance.now() - t0];
      };
      const [session, startMs] = await timed(() => startUpload(h, { name: 'drive-like' }));
      expect(startMs).toBeGreaterThanOrEqual(395);
      const [first, chunkMs] = await timed(() =>
        putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, pattern(KIB256)),
      );
      expect(first.status).toBe(308);
      expect(chunkMs).toBeGreaterThanOrEqual(395);
      // While a chunk is held on the server, a metadata request is answered first.
      const order: string[] = [];
      const chunk = putChunk(h, session, `bytes ${KIB256}-${KIB256 + 9}/${KIB256 + 10}`, pattern(10)).then(
        (res) => {
          order.push('chunk');
          return res;
        },
      );
      const list = h.api('drive/v3/files').then((res) => {
        order.push('list');
        return res;
      });
      expect((await list).status).toBe(200);
      expect((await chunk).status).toBe(200);
      expect(order).toEqual(['list', 'chunk']);
      expect(h.sandbox.counters()['upload.chunk']).toBe(2);
    } finally {
      await h.close();
    }
  });
});
