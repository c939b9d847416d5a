// The 750 GB/day upload cap, as Drive answers it (403 userRateLimitExceeded "User rate limit
// exceeded." on upload requests): an append or the session start ends after a short budget with
// daily_limit and the admin's sentence, and the handle stays resumable: once the cap lifts, the
// same append continues the same upload and the file verifies.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UPLOAD_CAP_ATTEMPTS } from '../../connector/drive/retry.js';
import { ERRORS } from '../../connector/errors/errors.js';
import {
  bytesOf,
  type DataPathEnv,
  itemNamed,
  localFile,
  openWrite,
  sha256,
  sha256File,
  startDataPath,
} from './data-path-fixture.js';

const CHUNK = 256 * 1024;

describe('the daily upload cap', () => {
  let env: DataPathEnv;
  beforeAll(async () => {
    env = await startDataPath({ config: { chunkSize: CHUNK, maxAttempts: 8 } });
  });
  afterEach(() => env.sandbox.setFaults(''));
  afterAll(async () => {
    await env.close();
  });

  it('ends a chunk PUT with daily_limit after a short budget; the same append later carries on', async () => {
    const bytes = bytesOf(4 * CHUNK + 777, 61);
    const first = bytes.subarray(0, CHUNK + 100);
    const second = bytes.subarray(CHUNK + 100);
    const fd = await openWrite(env, 'capped.bin');
    await env.handles.appendFile(fd, await localFile(env, 'capped-1', first));
    env.sandbox.setFaults('upload.chunk:daily403');
    env.sandbox.resetCounters();
    const piece = await localFile(env, 'capped-2', second);
    const error = await env.handles.appendFile(fd, piece).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'daily_limit',
      retryable: false,
      message: ERRORS.daily_limit.message,
    });
    // A short budget, not the 8 attempts of an ordinary rate limit.
    expect(env.sandbox.counters()['upload.chunk']).toBe(UPLOAD_CAP_ATTEMPTS);
    env.sandbox.setFaults('');
    await env.handles.appendFile(fd, piece);
    const result = await env.handles.closeWrite(fd);
    expect(result).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
    expect(await sha256File(env.sandbox.contentPath(itemNamed(env, 'capped.bin').id))).toBe(sha256(bytes));
  });

  it('ends the session start with daily_limit; the handle then starts its upload when appended again', async () => {
    const bytes = bytesOf(2 * CHUNK + 5, 62);
    const fd = await openWrite(env, 'capped-start.bin');
    env.sandbox.setFaults('upload.start:daily403');
    env.sandbox.resetCounters();
    const piece = await localFile(env, 'capped-start', bytes);
    await expect(env.handles.appendFile(fd, piece)).rejects.toMatchObject({ code: 'daily_limit' });
    expect(env.sandbox.counters()['upload.start']).toBe(UPLOAD_CAP_ATTEMPTS);
    env.sandbox.setFaults('');
    await env.handles.appendFile(fd, piece);
    expect(await env.handles.closeWrite(fd)).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
  });

  it('lets a burst of the same answer pass: two refused chunk PUTs, then the upload verifies', async () => {
    const bytes = bytesOf(3 * CHUNK + 9, 63);
    const fd = await openWrite(env, 'burst.bin');
    env.sandbox.setFaults(`upload.chunk:daily403@2x${UPLOAD_CAP_ATTEMPTS - 1}`);
    await env.handles.appendFile(fd, await localFile(env, 'burst', bytes));
    expect(await env.handles.closeWrite(fd)).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
  });
});
