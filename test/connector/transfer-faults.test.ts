// Faults injected by the sandbox during uploads and downloads: every retryable kind is retried
// and the file still verifies; every final kind fails the call at once with the catalogue's
// sentence; an access token expiring mid-upload is refreshed transparently.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../connector/errors/errors.js';
import { startTestEnv, type TestEnv, writeLocalFile } from '../helpers/test-env.js';
import {
  bytesOf,
  cut,
  type DataPathEnv,
  itemNamed,
  localFile,
  md5,
  openWrite,
  sha256,
  sha256File,
  startDataPath,
  upload,
} from './data-path-fixture.js';

const KIB = 1024;
const CHUNK = 256 * KIB;
const RETRYABLE = ['500', '503', '429', 'rate403', 'reset'] as const;

/** The admin's sentence of a code, with its placeholders as a loose pattern. */
function sentence(code: keyof typeof ERRORS): RegExp {
  const parts = ERRORS[code].message.split(/\{\w+\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(parts.join('.*'));
}

describe('upload faults', () => {
  let env: DataPathEnv;
  let n = 0;
  beforeAll(async () => {
    env = await startDataPath({ config: { chunkSize: CHUNK, maxAttempts: 5 } });
  });
  afterEach(() => env.sandbox.setFaults(''));
  afterAll(async () => {
    await env.close();
  });

  async function uploadChecked(bytes: Buffer, pieces: number[] = [CHUNK + 12_345, 70_001]): Promise<string> {
    const name = `f${n++}.bin`;
    const result = await upload(env, name, cut(bytes, pieces));
    expect(result).toEqual({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
    const item = itemNamed(env, name);
    expect(await sha256File(env.sandbox.contentPath(item.id))).toBe(sha256(bytes));
    return name;
  }

  for (const fault of RETRYABLE) {
    it(`retries chunk ${fault} (2nd and 4th chunk) and the upload verifies`, async () => {
      env.sandbox.setFaults(`upload.chunk:${fault}@2;upload.chunk:${fault}@4`);
      env.sandbox.resetCounters();
      await uploadChecked(bytesOf(5 * CHUNK + 999, 40));
      const counts = env.sandbox.counters();
      // 6 chunks + 2 failed tries; each retry first asks Drive where it is.
      expect(counts['upload.chunk']).toBe(8);
      expect(counts['upload.status']).toBe(2);
    });
  }

  it('retries a failing session start', async () => {
    env.sandbox.setFaults('upload.start:503@1;upload.start:reset@2');
    env.sandbox.resetCounters();
    await uploadChecked(bytesOf(2 * CHUNK + 1, 41));
    expect(env.sandbox.counters()['upload.start']).toBe(3);
  });

  it('retries a failing status query', async () => {
    env.sandbox.setFaults('upload.chunk:500@2;upload.status:503@1');
    env.sandbox.resetCounters();
    await uploadChecked(bytesOf(3 * CHUNK + 1, 42));
    expect(env.sandbox.counters()['upload.status']).toBe(2);
  });

  it('resends what Drive did not persist after short 308s (middle and last chunk)', async () => {
    env.sandbox.setFaults('upload.chunk:short308@2x2;upload.chunk:short308@5');
    env.sandbox.resetCounters();
    const bytes = bytesOf(4 * CHUNK + 100_000, 43);
    await uploadChecked(bytes);
    // More PUTs than chunks: the unpersisted parts went again.
    expect(env.sandbox.counters()['upload.chunk']).toBeGreaterThan(5);
  });

  it('a short 308 on the final chunk resends its unpersisted rest', async () => {
    // 3 chunks: two PUTs while appending, the last (held back, full size) names the total.
    env.sandbox.setFaults('upload.chunk:short308@3');
    env.sandbox.resetCounters();
    await uploadChecked(bytesOf(3 * CHUNK, 44), [3 * CHUNK]);
    expect(env.sandbox.counters()['upload.chunk']).toBe(4);
  });

  it('refreshes an access token that expires between two appends', async () => {
    const name = 'expiring-token.bin';
    const bytes = bytesOf(3 * CHUNK + 5, 45);
    const fd = await openWrite(env, name);
    await env.handles.appendFile(fd, await localFile(env, 'tok-1', bytes.subarray(0, CHUNK + 7)));
    env.sandbox.expireAccessTokens();
    env.sandbox.resetCounters();
    await env.handles.appendFile(fd, await localFile(env, 'tok-2', bytes.subarray(CHUNK + 7)));
    expect(env.sandbox.counters()['oauth.token']).toBe(1);
    const result = await env.handles.closeWrite(fd);
    expect(result.sha256).toBe(sha256(bytes));
  });

  it('refreshes an access token that expires in the middle of an append', async () => {
    const name = 'expiring-mid.bin';
    const bytes = bytesOf(8 * CHUNK + 5, 46);
    const fd = await openWrite(env, name);
    const file = await localFile(env, 'mid', bytes);
    env.sandbox.resetCounters();
    const appending = env.handles.appendFile(fd, file);
    // Expire the token once the first chunks went through (checked every turn of the loop).
    while (env.sandbox.counters()['upload.chunk'] < 2) await new Promise((r) => setImmediate(r));
    env.sandbox.expireAccessTokens();
    await appending;
    expect(env.sandbox.counters()['oauth.token']).toBe(1);
    expect((await env.handles.closeWrite(fd)).sha256).toBe(sha256(bytes));
  });

  it('gives up after maxAttempts with drive_unavailable, and the same handle finishes once Drive is back', async () => {
    const name = 'outage.bin';
    const bytes = bytesOf(3 * CHUNK + 3, 47);
    const fd = await openWrite(env, name);
    await env.handles.appendFile(fd, await localFile(env, 'out-1', bytes.subarray(0, CHUNK + 1)));
    env.sandbox.setFaults('upload.chunk:503;upload.status:503');
    const error = await env.handles
      .appendFile(fd, await localFile(env, 'out-2', bytes.subarray(CHUNK + 1)))
      .catch((e) => e);
    expect(error).toMatchObject({ code: 'drive_unavailable', retryable: true });
    expect((error as Error).message).toMatch(sentence('drive_unavailable'));
    env.sandbox.setFaults('');
    // The failed append changed nothing: appending the same piece again carries on.
    await env.handles.appendFile(fd, await localFile(env, 'out-2', bytes.subarray(CHUNK + 1)));
    expect((await env.handles.closeWrite(fd)).sha256).toBe(sha256(bytes));
    expect(await sha256File(env.sandbox.contentPath(itemNamed(env, name).id))).toBe(sha256(bytes));
  });

  it('errors after exhausted resets name no session URI and no token', async () => {
    const name = 'secret-free.bin';
    const fd = await openWrite(env, name);
    await env.handles.appendFile(fd, await localFile(env, 'sf-1', bytesOf(CHUNK + 1, 52)));
    const record = (await env.state.get<{ sessionUri: string }>(`transfer:${fd}`))!;
    const uploadId = new URL(record.sessionUri).searchParams.get('upload_id')!;
    env.sandbox.setFaults('upload.chunk:reset;upload.status:reset');
    const error = await env.handles
      .appendFile(fd, await localFile(env, 'sf-2', bytesOf(CHUNK, 53)))
      .catch((e) => e);
    expect(error).toMatchObject({ code: 'drive_unavailable' });
    const text = `${(error as Error).message} ${JSON.stringify(error)}`;
    expect(uploadId.length).toBeGreaterThan(8);
    expect(text).not.toContain(uploadId);
    expect(text).not.toMatch(/Bearer|access_token|refresh_token/i);
  });

  const finals: Array<[string, string, keyof typeof ERRORS]> = [
    ['quota403', 'upload.chunk:quota403@2', 'drive_full'],
    ['expire', 'upload.chunk:expire@2', 'upload_session_expired'],
  ];
  for (const [label, spec, code] of finals) {
    it(`fails at once on ${label} with ${code}`, async () => {
      const name = `final-${code}-${n++}.bin`;
      const fd = await openWrite(env, name);
      env.sandbox.setFaults(spec);
      env.sandbox.resetCounters();
      const file = await localFile(env, `final-${n}`, bytesOf(4 * CHUNK + 1, 48));
      const error = await env.handles.appendFile(fd, file).catch((e: unknown) => e);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).toMatch(sentence(code));
      // Not retried: one faulted request of the kind, no status query.
      expect(env.sandbox.counters()['upload.status']).toBe(0);
      if (code === 'upload_session_expired') {
        // The session is gone: the handle is forgotten, the file has to be written again.
        await expect(env.handles.closeWrite(fd)).rejects.toMatchObject({ code: 'unknown_handle' });
      }
    });
  }

  it('fails with drive_full when the account quota is exhausted', async () => {
    const used = env.sandbox.items().reduce((sum, i) => sum + i.size, 0);
    env.sandbox.setQuota(used + 100 * KIB);
    try {
      const name = 'too-big.bin';
      const fd = await openWrite(env, name);
      const error = await (async () => {
        await env.handles.appendFile(fd, await localFile(env, 'too-big', bytesOf(2 * CHUNK + 1, 49)));
        await env.handles.closeWrite(fd);
      })().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'drive_full' });
      expect((error as Error).message).toMatch(/full/);
    } finally {
      env.sandbox.setQuota(null);
    }
  });
});

describe('upload with revoked access', () => {
  const cases: Array<[string, (env: DataPathEnv) => void]> = [
    ['revoked between two appends', (env) => env.sandbox.revokeAll()],
    ['revoked by the chunk request itself', (env) => env.sandbox.setFaults('upload.chunk:revoke@1')],
  ];
  for (const [label, revoke] of cases) {
    it(`fails with reconnect_required when ${label} (the sentence tells to reconnect)`, async () => {
      const env = await startDataPath({ config: { chunkSize: CHUNK } });
      try {
        const fd = await openWrite(env, 'r.bin');
        await env.handles.appendFile(fd, await localFile(env, 'r1', bytesOf(CHUNK + 1, 50)));
        revoke(env);
        const error = await env.handles
          .appendFile(fd, await localFile(env, 'r2', bytesOf(CHUNK, 51)))
          .catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'reconnect_required' });
        expect((error as Error).message).toMatch(sentence('reconnect_required'));
        expect((error as Error).message).toContain('reconnect Google Drive');
      } finally {
        await env.close();
      }
    });
  }
});

describe('download faults', () => {
  let env: DataPathEnv;
  let content: Buffer;
  let fileId: string;
  beforeAll(async () => {
    env = await startDataPath({
      config: { chunkSize: 1024 * KIB, downloadStreams: 3, downloadRangeSize: 256 * KIB, maxAttempts: 5 },
    });
    content = bytesOf(2 * 1024 * KIB + 333, 60);
    await upload(env, 'dl.bin', [content]);
    fileId = itemNamed(env, 'dl.bin').id;
  });
  afterEach(() => env.sandbox.setFaults(''));
  afterAll(async () => {
    await env.close();
  });

  const read = async (label: string) => {
    const fd = await env.handles.openRead({
      object: env.object,
      path: '/dl.bin',
      fileId,
      size: content.length,
      md5: md5(content),
      offset: 0,
    });
    const out = join(env.workDir, `dl-${label}`);
    try {
      expect(await env.handles.readFile(fd, out, null)).toBe(content.length);
      expect((await readFile(out)).equals(content)).toBe(true);
    } finally {
      await env.handles.closeRead(fd);
    }
  };

  for (const fault of RETRYABLE) {
    it(`retries ranged GETs failing with ${fault} and the read verifies`, async () => {
      env.sandbox.setFaults(`files.download:${fault}@2;files.download:${fault}@5`);
      env.sandbox.resetCounters();
      await read(fault);
      // 9 ranges + 2 faulted requests.
      expect(env.sandbox.counters()['files.download']).toBe(11);
    });
  }

  it('refreshes an access token expiring during a read', async () => {
    env.sandbox.setFaults('files.download:expire@3');
    await read('expire');
  });

  it('fails at once with reconnect_required when access is revoked', async () => {
    env.sandbox.setFaults('files.download:revoke@2');
    const fd = await env.handles.openRead({
      object: env.object,
      path: '/dl.bin',
      fileId,
      size: content.length,
      offset: 0,
    });
    const error = await env.handles.readFile(fd, join(env.workDir, 'revoked'), null).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'reconnect_required' });
  });
});

describe('through the connector (its own DriveHttp, stores and transport)', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ config: { chunkSize: CHUNK, downloadRangeSize: 64 * KIB, maxAttempts: 5 } });
    await env.transport.createDir('/backups');
  });
  afterAll(async () => {
    await env.close();
  });

  it('uploads across a token expiry and a chunk reset, survives a reopen, and reads back verified', async () => {
    const bytes = bytesOf(5 * CHUNK + 777, 90);
    const fd = await env.transport.openFileWrite('/backups/full.tar');
    await env.connector.appendFile(
      fd,
      await writeLocalFile(env.tmpDir, 'a1', bytes.subarray(0, 2 * CHUNK + 1)),
    );
    env.sandbox.expireAccessTokens();
    env.sandbox.setFaults('upload.chunk:reset@2');
    await env.connector.appendFile(
      fd,
      await writeLocalFile(env.tmpDir, 'a2', bytes.subarray(2 * CHUNK + 1, 4 * CHUNK)),
    );
    env.sandbox.setFaults('');
    await env.reopen();
    await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'a3', bytes.subarray(4 * CHUNK)));
    const result = await env.connector.closeWrite(fd);
    expect(result).toEqual({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
    expect(await env.transport.stat('/backups/full.tar')).toMatchObject({
      size: bytes.length,
      hash: md5(bytes),
    });

    env.sandbox.setFaults('files.download:reset@3');
    const rfd = await env.transport.openFileRead('/backups/full.tar', 0);
    const out = join(env.tmpDir, 'restored');
    expect(await env.connector.readFile(rfd, out, null)).toBe(bytes.length);
    expect((await readFile(out)).equals(bytes)).toBe(true);
    await env.connector.closeRead(rfd);
    expect(await env.connector.openHandles()).toBe(0);
  });

  it('a revoked grant fails the upload with reconnect_required', async () => {
    const fd = await env.transport.openFileWrite('/backups/revoked.tar');
    await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'r1', bytesOf(CHUNK + 1, 91)));
    env.sandbox.revokeAll();
    const error = await env.connector
      .appendFile(fd, await writeLocalFile(env.tmpDir, 'r2', bytesOf(CHUNK, 92)))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'reconnect_required' });
  });
});
