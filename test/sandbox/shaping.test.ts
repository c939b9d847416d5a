// Traffic shaping: the per-connection bandwidth cap (both directions) and the added latency.
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
