// GDRIVE_BANDWIDTH_LIMIT through the real connector and the sandbox: uploads and downloads
// take at least the time the limit allows, and transfers running at once share one limit.
// The one place where a time bound is the behaviour itself: the bounds are lower ones, with
// a quarter of slack (the bucket may start with a tenth of a second of bytes).
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacedReadable, TokenBucket } from '../../connector/drive/bandwidth-limit.js';
import { md5, sha256, startTestEnv, type TestEnv } from '../helpers/test-env.js';

const MIB = 1024 * 1024;
let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ config: { bandwidthLimit: '1MiB', chunkSize: '256KiB' } });
});

afterAll(async () => {
  await env?.close();
});

async function upload(path: string, data: Buffer): Promise<void> {
  const local = join(env.tmpDir, `${path.slice(1)}.local`);
  await writeFile(local, data);
  const fd = await env.transport.openFileWrite(path);
  expect(await env.connector.appendFile(fd, local)).toBe(data.length);
  expect(await env.connector.closeWrite(fd)).toEqual({
    size: data.length,
    md5: md5(data),
    sha256: sha256(data),
  });
}

describe('bandwidth limit', () => {
  it('reads the limit as a size per second', () => {
    expect(env.config.bandwidthLimit).toBe(MIB);
  });

  it('an upload of 2 MiB at 1 MiB/s takes at least 1.5 s', { timeout: 30_000 }, async () => {
    const data = randomBytes(2 * MIB);
    const started = performance.now();
    await upload('/limited.bin', data);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1500);
  });

  it('a download of 2 MiB at 1 MiB/s takes at least 1.5 s', { timeout: 30_000 }, async () => {
    const started = performance.now();
    const fd = await env.transport.openFileRead('/limited.bin', 0);
    const local = join(env.tmpDir, 'limited.back');
    expect(await env.connector.readFile(fd, local, null)).toBe(2 * MIB);
    await env.connector.closeRead(fd);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1500);
    expect(md5(await readFile(local))).toBe(md5(await readFile(join(env.tmpDir, 'limited.bin.local'))));
  });

  it('two uploads of 1 MiB at once share the 1 MiB/s: together at least 1.5 s', {
    timeout: 30_000,
  }, async () => {
    const started = performance.now();
    await Promise.all([upload('/a.bin', randomBytes(MIB)), upload('/b.bin', randomBytes(MIB))]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1500);
  });

  it('a limited upload cut off mid-body is sent again, paced, and verifies', {
    timeout: 30_000,
  }, async () => {
    env.sandbox.resetCounters();
    env.sandbox.setFaults('upload.chunk:reset@1');
    const data = randomBytes(MIB);
    const started = performance.now();
    await upload('/cut.bin', data);
    const elapsed = performance.now() - started;
    env.sandbox.setFaults('');
    expect(env.sandbox.faultsFired()['upload.chunk']).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(750);
    const fd = await env.transport.openFileRead('/cut.bin', 0);
    const local = join(env.tmpDir, 'cut.back');
    expect(await env.connector.readFile(fd, local, null)).toBe(MIB);
    await env.connector.closeRead(fd);
    expect((await readFile(local)).equals(data)).toBe(true);
    expect(await env.connector.openHandles()).toBe(0);
  });
});

describe('PacedReadable', () => {
  const PIECE = 256 * 1024;

  /** A source of `pieces` pieces of PIECE bytes that counts the pieces read from it. */
  function countingSource(pieces: number): { source: Readable; read: () => number } {
    let read = 0;
    const source = new Readable({
      highWaterMark: PIECE,
      read(): void {
        this.push(read < pieces ? Buffer.alloc(PIECE, read++) : null);
      },
    });
    return { source, read: () => read };
  }

  it('reads no further ahead of what was sent than the piece it holds and one more', async () => {
    const { source, read } = countingSource(8);
    let received = 0;
    let mostAhead = 0;
    await pipeline(
      new PacedReadable(source, new TokenBucket(64 * 1024 * 1024)),
      new Writable({
        highWaterMark: 1,
        write(chunk: Buffer, _encoding, done): void {
          received += chunk.length;
          mostAhead = Math.max(mostAhead, read() * PIECE - received);
          setImmediate(done);
        },
      }),
    );
    expect(received).toBe(8 * PIECE);
    expect(mostAhead).toBeLessThanOrEqual(2 * PIECE);
  });

  it('destroyed while it waits on the bucket, it destroys its source at once', async () => {
    const { source } = countingSource(8);
    // 1 KiB/s: the second slice would wait a minute, longer than the test may run.
    const paced = new PacedReadable(source, new TokenBucket(1024));
    const first = await new Promise<Buffer>((resolve) => paced.once('data', resolve));
    expect(first.length).toBe(64 * 1024);
    const closed = once(source, 'close');
    const failed = once(paced, 'error');
    paced.destroy(new Error('request cut off'));
    await closed;
    expect(source.destroyed).toBe(true);
    expect(((await failed) as [Error])[0].message).toBe('request cut off');
  });

  it('a source that fails fails it with the same error', async () => {
    const source = new Readable({ read(): void {} });
    const paced = new PacedReadable(source, new TokenBucket(1024 * 1024));
    const failed = once(paced, 'error');
    paced.resume();
    source.destroy(new Error('disk went away'));
    const [error] = (await failed) as [Error];
    expect(error.message).toBe('disk went away');
  });
});

describe('TokenBucket', () => {
  it('lets takers through at the rate on a clock it is given', async () => {
    let now = 0;
    const bucket = new TokenBucket(1000, () => now);
    // A full bucket (at least 64 KiB) passes at once; the next taker waits for its debt.
    await bucket.take(bucket.capacity);
    const started = performance.now();
    await bucket.take(20);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    now += 1000;
    const refilled = performance.now();
    await bucket.take(980);
    expect(performance.now() - refilled).toBeLessThan(1000);
  });
});
