// GDRIVE_BANDWIDTH_LIMIT through the real connector and the sandbox: uploads and downloads
// take at least the time the limit allows, and transfers running at once share one limit.
// The one place where a time bound is the behaviour itself: the bounds are lower ones, with
// a quarter of slack (the bucket may start with a tenth of a second of bytes).
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenBucket } from '../../connector/drive/bandwidth-limit.js';
import { md5, startTestEnv, type TestEnv } from '../helpers/test-env.js';

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
  expect(await env.connector.closeWrite(fd)).toMatchObject({ size: data.length, md5: md5(data) });
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
