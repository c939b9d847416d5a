// A 1 GiB resumable upload lands on disk, not in memory: the process's RSS barely grows.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness, putChunk, startUpload } from './helpers.js';

const GIB = 1024 ** 3;
const CHUNK = 16 * 1024 * 1024;

describe('large upload', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h.close());

  it('1 GiB in 16 MiB chunks: stored on disk with the right checksums, RSS growth well under the file size', async () => {
    const chunk = Buffer.alloc(CHUNK);
    for (let i = 0; i < CHUNK; i += 1) chunk[i] = (i * 31 + (i >>> 11)) & 0xff;
    const expected = createHash('sha256');
    const session = await startUpload(h, { name: 'big.tar' }, '&fields=id,size,sha256Checksum', {
      'x-upload-content-length': String(GIB),
    });
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    let done: Response | undefined;
    for (let offset = 0; offset < GIB; offset += CHUNK) {
      // Make every chunk different so a mixed-up chunk would change the checksum.
      chunk.writeUInt32LE(offset / CHUNK, 0);
      expected.update(chunk);
      const last = offset + CHUNK >= GIB;
      const res = await putChunk(
        h,
        session,
        `bytes ${offset}-${offset + CHUNK - 1}/${last ? GIB : '*'}`,
        chunk,
      );
      if (!last) {
        expect(res.status).toBe(308);
        expect(res.headers.get('range')).toBe(`bytes=0-${offset + CHUNK - 1}`);
        await res.arrayBuffer();
      } else {
        done = res;
      }
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(done!.status).toBe(200);
    const file = (await done!.json()) as { id: string; size: string; sha256Checksum: string };
    expect(file.size).toBe(String(GIB));
    expect(file.sha256Checksum).toBe(expected.digest('hex'));
    expect(statSync(h.sandbox.contentPath(file.id)).size).toBe(GIB);
    const growth = peak - before;
    console.log(
      `1 GiB upload: RSS before ${(before / 2 ** 20).toFixed(0)} MiB, peak growth ${(growth / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(growth).toBeLessThan(256 * 1024 * 1024);
  });
});
