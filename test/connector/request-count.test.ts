// Drive requests the data path spends, counted by the sandbox: a file of p appendFile pieces
// costs one session start and p + 1 PUTs (one per piece, the last with the tail), whatever the
// piece sizes, while the chunk size is above them; a piece bigger than the chunk size goes in
// several PUTs of at most that. Nothing else; reads cost one GET per range.
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RequestKind } from '../../connector/sandbox/drive-sandbox.js';
import {
  bytesOf,
  cut,
  type DataPathEnv,
  itemNamed,
  md5,
  openWrite,
  rangeRequests,
  startDataPath,
  upload,
} from './data-path-fixture.js';

const KIB = 1024;
const CHUNK = 256 * KIB;

function nonZero(counts: Record<RequestKind, number>): Partial<Record<RequestKind, number>> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}

describe('request counts', () => {
  let env: DataPathEnv;
  beforeAll(async () => {
    env = await startDataPath({
      config: { chunkSize: CHUNK, downloadRangeSize: 128 * KIB, downloadStreams: 4 },
    });
  });
  beforeEach(() => env.sandbox.resetCounters());
  afterAll(async () => {
    await env.close();
  });

  it('opening handles costs no request', async () => {
    const fd = await openWrite(env, 'n');
    const rfd = await env.handles.openRead({
      object: env.object,
      path: '/n',
      fileId: 'x',
      size: 1,
      offset: 0,
    });
    await env.handles.closeRead(rfd);
    expect(nonZero(env.sandbox.counters())).toEqual({});
    await env.handles.closeWrite(fd);
  });

  for (const c of [1, 2, 5]) {
    it(`3 files of ${c} chunk(s) in odd pieces cost 3 x (${c} + 1) upload requests`, async () => {
      const files = 3;
      for (let i = 0; i < files; i++) {
        // Sizes just above (c-1) chunks, in the middle, and exactly c chunks.
        const size = [(c - 1) * CHUNK + 1, c * CHUNK - 12_345, c * CHUNK][i]!;
        await upload(env, `count-${c}-${i}.bin`, cut(bytesOf(size, i), [77_777, 1, 150_001]));
      }
      expect(nonZero(env.sandbox.counters())).toEqual({ 'upload.start': files, 'upload.chunk': files * c });
    });
  }

  it('pieces of any size under the chunk size cost one PUT each, plus the last', async () => {
    await env.restart({ chunkSize: 64 * CHUNK });
    const pieces = [3 * CHUNK + 5, 7 * CHUNK - 1, 10 * CHUNK, 2 * CHUNK + 77];
    const total = pieces.reduce((a, b) => a + b);
    await upload(env, 'count-pieces.bin', cut(bytesOf(total, 9), pieces));
    expect(nonZero(env.sandbox.counters())).toEqual({
      'upload.start': 1,
      'upload.chunk': pieces.length + 1,
    });
    env.sandbox.resetCounters();
    // A piece of 5 chunk sizes and a bit goes in 5 PUTs of the chunk size (its last bytes wait).
    await env.restart({ chunkSize: 2 * CHUNK });
    await upload(env, 'count-big-piece.bin', [bytesOf(10 * CHUNK + 3, 10)]);
    expect(nonZero(env.sandbox.counters())).toEqual({ 'upload.start': 1, 'upload.chunk': 5 + 1 });
    await env.restart({ chunkSize: CHUNK });
  });

  it('an empty file costs a session start and one PUT', async () => {
    await upload(env, 'count-empty.bin', []);
    expect(nonZero(env.sandbox.counters())).toEqual({ 'upload.start': 1, 'upload.chunk': 1 });
  });

  it('reads cost one GET per range, and nothing else', async () => {
    const bytes = bytesOf(CHUNK * 3 + 5, 77);
    await upload(env, 'count-read.bin', [bytes]);
    const id = itemNamed(env, 'count-read.bin').id;
    env.sandbox.resetCounters();
    const fd = await env.handles.openRead({
      object: env.object,
      path: '/count-read.bin',
      fileId: id,
      size: bytes.length,
      md5: md5(bytes),
      offset: 0,
    });
    await env.handles.readFile(fd, join(env.workDir, 'c1'), 1000);
    expect(nonZero(env.sandbox.counters())).toEqual({ 'files.download': 1 });
    await env.handles.readFile(fd, join(env.workDir, 'c2'), null);
    // The rest, 3 chunks + 5 - 1000 bytes, in equal ranges of at most 128 KiB for 4 streams.
    expect(nonZero(env.sandbox.counters())).toEqual({
      'files.download': 1 + rangeRequests(bytes.length - 1000, 128 * KIB, 4),
    });
    await env.handles.closeRead(fd);
  });
});
