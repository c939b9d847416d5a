// The streaming resumable upload through TransferHandles against the real sandbox: sizes at the
// chunk boundaries, pieces of odd sizes, byte-identical content on the sandbox's disk, handle and
// local-file errors, verification failure, the in-memory sha256 (compared with Drive's, rolled
// back with a failed append) and memory while streaming 300 MiB with a chunk size of 1 GiB.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import { type UploadRecord, verificationError } from '../../connector/drive/resumable-upload.js';
import { Pacer } from '../../connector/drive/retry.js';
import { TransferHandles } from '../../connector/drive/transfer-handles.js';
import { isGdriveBackupError } from '../../connector/errors/errors.js';
import { silentLog } from '../../connector/log.js';
import { recordingLog } from '../helpers/test-env.js';
import {
  bytesOf,
  type ChildSandbox,
  cut,
  type DataPathEnv,
  handlesLogging,
  itemNamed,
  localFile,
  md5,
  openWrite,
  sha256,
  sha256File,
  startChildSandbox,
  startDataPath,
  upload,
} from './data-path-fixture.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const CHUNK = 256 * KIB;

describe('resumable upload (chunk 256 KiB)', () => {
  let env: DataPathEnv;
  beforeAll(async () => {
    env = await startDataPath({ config: { chunkSize: CHUNK } });
  });
  afterAll(async () => {
    await env.close();
  });

  const sizes: Array<[string, number]> = [
    ['0 B', 0],
    ['1 B', 1],
    ['exactly one chunk', CHUNK],
    ['one chunk + 1 B', CHUNK + 1],
    ['exactly three chunks', 3 * CHUNK],
  ];
  for (const [label, size] of sizes) {
    it(`round-trips a file of ${label} in one append`, async () => {
      const bytes = bytesOf(size, size);
      const name = `size-${size}.bin`;
      const result = await upload(env, name, [bytes]);
      expect(result).toEqual({ size, md5: md5(bytes), sha256: sha256(bytes) });
      const item = itemNamed(env, name);
      expect(item.size).toBe(size);
      expect(await sha256File(env.sandbox.contentPath(item.id))).toBe(sha256(bytes));
    });
  }

  it('round-trips a multi-chunk file fed in pieces of odd sizes (1 B .. 700 KiB)', async () => {
    const bytes = bytesOf(3 * MIB + 12345, 7);
    const pieces = cut(bytes, [1, 700 * KIB + 1, 3, CHUNK - 1, 99_999, CHUNK, 131_073, 2]);
    const result = await upload(env, 'odd-pieces.bin', pieces);
    expect(result.sha256).toBe(sha256(bytes));
    expect(result.md5).toBe(md5(bytes));
    const item = itemNamed(env, 'odd-pieces.bin');
    expect(await sha256File(env.sandbox.contentPath(item.id))).toBe(sha256(bytes));
  });

  it('accepts empty pieces between others', async () => {
    const bytes = bytesOf(CHUNK + 5, 3);
    const result = await upload(env, 'with-empty.bin', [
      Buffer.alloc(0),
      bytes.subarray(0, 5),
      Buffer.alloc(0),
      bytes.subarray(5),
      Buffer.alloc(0),
    ]);
    expect(result.sha256).toBe(sha256(bytes));
  });

  it('runs uploads of different handles in parallel', async () => {
    const a = bytesOf(2 * MIB + 1, 11);
    const b = bytesOf(MIB + 77, 12);
    const [ra, rb] = await Promise.all([
      upload(env, 'parallel-a.bin', cut(a, [300 * KIB + 3])),
      upload(env, 'parallel-b.bin', cut(b, [200 * KIB + 9])),
    ]);
    expect(ra.sha256).toBe(sha256(a));
    expect(rb.sha256).toBe(sha256(b));
    expect(await sha256File(env.sandbox.contentPath(itemNamed(env, 'parallel-b.bin').id))).toBe(sha256(b));
  });

  it('serialises appends on one handle called concurrently', async () => {
    const fd = await openWrite(env, 'same-fd.bin');
    const x = bytesOf(300 * KIB + 1, 21);
    const y = bytesOf(300 * KIB + 3, 22);
    const [px, py] = [await localFile(env, 'same-x', x), await localFile(env, 'same-y', y)];
    const counts = await Promise.all([env.handles.appendFile(fd, px), env.handles.appendFile(fd, py)]);
    expect(counts).toEqual([x.length, y.length]);
    const result = await env.handles.closeWrite(fd);
    expect(result.sha256).toBe(sha256(Buffer.concat([x, y])));
  });

  it('reports handle mistakes with the catalogue codes', async () => {
    const file = await localFile(env, 'small', bytesOf(10));
    await expect(env.handles.appendFile('w-00000000000000000000000000000000', file)).rejects.toMatchObject({
      code: 'unknown_handle',
    });
    await expect(env.handles.appendFile('../../etc/passwd', file)).rejects.toMatchObject({
      code: 'unknown_handle',
    });
    await expect(env.handles.closeWrite('nonsense')).rejects.toMatchObject({ code: 'unknown_handle' });
    const rfd = await env.handles.openRead({
      object: env.object,
      path: '/x',
      fileId: 'x',
      size: 1,
      offset: 0,
    });
    await expect(env.handles.appendFile(rfd, file)).rejects.toMatchObject({ code: 'wrong_handle_kind' });
    await expect(env.handles.closeWrite(rfd)).rejects.toMatchObject({ code: 'wrong_handle_kind' });
    const wfd = await openWrite(env, 'k');
    await expect(env.handles.readFile(wfd, join(env.workDir, 'out'), 1)).rejects.toMatchObject({
      code: 'wrong_handle_kind',
      message: expect.stringContaining('writing'),
    });
    await expect(env.handles.closeRead(wfd)).rejects.toMatchObject({ code: 'wrong_handle_kind' });
    await env.handles.closeRead(rfd);
    await expect(env.handles.closeRead(rfd)).rejects.toMatchObject({ code: 'unknown_handle' });
  });

  it('refuses missing, directory and unreadable local files with local_file_error, keeping the handle usable', async () => {
    const fd = await openWrite(env, 'lf.bin');
    const missing = join(env.workDir, 'does-not-exist');
    await expect(env.handles.appendFile(fd, missing)).rejects.toMatchObject({
      code: 'local_file_error',
      message: expect.stringContaining('does not exist'),
    });
    const dir = join(env.workDir, 'a-dir');
    await mkdir(dir);
    await expect(env.handles.appendFile(fd, dir)).rejects.toMatchObject({
      code: 'local_file_error',
      message: expect.stringContaining('directory'),
    });
    // Unreadable whoever runs the test (CI is root): a path under a regular file, and a device.
    const underFile = join(await localFile(env, 'lf-plain', bytesOf(10)), 'x');
    await expect(env.handles.appendFile(fd, underFile)).rejects.toMatchObject({
      code: 'local_file_error',
      message: expect.stringContaining('a parent of it is not a directory'),
    });
    await expect(env.handles.appendFile(fd, '/dev/null')).rejects.toMatchObject({
      code: 'local_file_error',
      message: expect.stringContaining('it is not a regular file'),
    });
    const good = bytesOf(1000, 5);
    await env.handles.appendFile(fd, await localFile(env, 'lf-good', good));
    const result = await env.handles.closeWrite(fd);
    expect(result.sha256).toBe(sha256(good));
  });

  it('removes the file on Drive and throws verification_failed when Drive holds other bytes than were appended', async () => {
    const name = 'tampered.bin';
    const fd = await openWrite(env, name);
    await env.handles.appendFile(fd, await localFile(env, 'tamper-1', bytesOf(CHUNK + 10, 1)));
    // Another handle's hash state: our checksums no longer describe the bytes Drive got.
    const other = await openWrite(env, 'o');
    await env.handles.appendFile(other, await localFile(env, 'tamper-2', bytesOf(CHUNK + 10, 2)));
    const mine = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
    const theirs = (await env.state.get<UploadRecord>(`transfer:${other}`))!;
    await env.state.set(`transfer:${fd}`, { ...mine, hashState: theirs.hashState });
    const error = await env.handles.closeWrite(fd).catch((e: unknown) => e);
    expect(isGdriveBackupError(error, 'verification_failed')).toBe(true);
    expect((error as Error).message).toContain('md5 differs');
    expect(env.sandbox.items().filter((i) => i.name === name && !i.trashed)).toHaveLength(0);
    await expect(env.handles.closeWrite(fd)).rejects.toMatchObject({ code: 'unknown_handle' });
  });

  it('counts open handles and forgets closed ones', async () => {
    const before = await env.handles.openCount();
    const fd = await openWrite(env, 'c');
    expect(await env.handles.openCount()).toBe(before + 1);
    await env.handles.closeWrite(fd);
    expect(await env.handles.openCount()).toBe(before);
  });
});

describe("verificationError (Drive's answer to the last chunk against our hashes)", () => {
  const bytes = bytesOf(1000, 31);
  const drive = { id: 'f', size: '1000', md5Checksum: md5(bytes), sha256Checksum: sha256(bytes) };
  const ours = { md5: md5(bytes), sha256: sha256(bytes) };

  it('accepts matching size, md5 and sha256 (either case)', () => {
    expect(verificationError(drive, 1000, ours, '/v.bin')).toBeUndefined();
    const upper = {
      ...drive,
      md5Checksum: md5(bytes).toUpperCase(),
      sha256Checksum: sha256(bytes).toUpperCase(),
    };
    expect(verificationError(upper, 1000, ours, '/v.bin')).toBeUndefined();
  });

  it('fails on a sha256 that differs while size and md5 match', () => {
    const other = { ...drive, sha256Checksum: sha256(bytesOf(1000, 32)) };
    const error = verificationError(other, 1000, ours, '/v.bin');
    expect(isGdriveBackupError(error, 'verification_failed')).toBe(true);
    expect(error).toMatchObject({ params: { path: '/v.bin', detail: 'sha256 differs' } });
  });

  it('fails on size and md5 whatever the sha256', () => {
    expect(verificationError(drive, 1001, ours, '/v.bin')).toMatchObject({
      code: 'verification_failed',
      params: { detail: 'Drive has 1000 bytes, 1001 were sent' },
    });
    expect(verificationError({ ...drive, md5Checksum: md5(bytesOf(3)) }, 1000, ours, '/v.bin')).toMatchObject(
      {
        code: 'verification_failed',
        params: { detail: 'md5 differs' },
      },
    );
    const { md5Checksum: _, ...noMd5 } = drive;
    expect(verificationError(noMd5, 1000, ours, '/v.bin')).toMatchObject({ code: 'verification_failed' });
  });

  it('without our sha256 (a restart in between) checks size and md5 only', () => {
    const other = { ...drive, sha256Checksum: sha256(bytesOf(1000, 32)) };
    expect(verificationError(other, 1000, { md5: md5(bytes) }, '/v.bin')).toBeUndefined();
    expect(
      verificationError({ ...other, md5Checksum: md5(bytesOf(3)) }, 1000, { md5: md5(bytes) }, '/v.bin'),
    ).toMatchObject({
      code: 'verification_failed',
    });
  });
});

describe('the in-memory sha256 (chunk 256 KiB, maxAttempts 3)', () => {
  let env: DataPathEnv;
  beforeAll(async () => {
    env = await startDataPath({ config: { chunkSize: CHUNK, maxAttempts: 3 } });
  });
  afterAll(async () => {
    await env.close();
  });

  const notRecomputed = (log: ReturnType<typeof recordingLog>) =>
    log.entries.filter((e) => e.message.includes('sha256 not re-computed'));

  it('without a restart is our own hash of the appended bytes, and the record keeps no sha256 state', async () => {
    const log = recordingLog();
    const handles = handlesLogging(env, log);
    const bytes = bytesOf(2 * CHUNK + 99, 33);
    const fd = await openWrite(env, 'own.bin', handles);
    await handles.appendFile(fd, await localFile(env, 'own-1', bytes.subarray(0, CHUNK + 7)));
    await handles.appendFile(fd, await localFile(env, 'own-2', bytes.subarray(CHUNK + 7)));
    const record = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
    expect(record.sha256).toBe('live');
    expect(Object.keys(record.hashState)).toEqual(['md5']);
    expect(await handles.closeWrite(fd)).toEqual({
      size: bytes.length,
      md5: md5(bytes),
      sha256: sha256(bytes),
    });
    expect(notRecomputed(log)).toEqual([]);
  });

  it('an appendFile that failed half-way, repeated, leaves md5 and sha256 those of the local file', async () => {
    const log = recordingLog();
    const handles = handlesLogging(env, log);
    const name = 'failed-append.bin';
    const bytes = bytesOf(5 * CHUNK + 1234, 34);
    const first = CHUNK + 1;
    const fd = await openWrite(env, name, handles);
    await handles.appendFile(fd, await localFile(env, 'fa-1', bytes.subarray(0, first)));
    const before = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
    // The first chunk of the call goes through, every later one fails: the call has hashed
    // bytes (the tail, two chunks) when it gives up.
    env.sandbox.setFaults('upload.chunk:500@2x20');
    env.sandbox.resetCounters();
    const second = await localFile(env, 'fa-2', bytes.subarray(first));
    await expect(handles.appendFile(fd, second)).rejects.toMatchObject({ code: 'drive_unavailable' });
    expect(env.sandbox.counters()['upload.chunk']).toBe(1 + 3);
    const after = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
    // Only Drive's offset moved on; md5 state and appended are those of before the call, which
    // is marked as failed (a close now would not finish the file).
    expect(after.offset).toBe(2 * CHUNK);
    expect({ ...after, offset: before.offset }).toEqual({ ...before, appendFailed: true });
    env.sandbox.setFaults('');
    expect(await handles.appendFile(fd, second)).toBe(bytes.length - first);
    expect(await handles.closeWrite(fd)).toEqual({
      size: bytes.length,
      md5: md5(bytes),
      sha256: sha256(bytes),
    });
    expect(notRecomputed(log)).toEqual([]);
    expect(await sha256File(env.sandbox.contentPath(itemNamed(env, name).id))).toBe(sha256(bytes));
  });

  it('a closeWrite that failed, repeated, still reports our sha256', async () => {
    const log = recordingLog();
    const handles = handlesLogging(env, log);
    const name = 'failed-close.bin';
    const bytes = bytesOf(CHUNK + 4321, 35);
    const fd = await openWrite(env, name, handles);
    await handles.appendFile(fd, await localFile(env, 'fc', bytes));
    env.sandbox.setFaults('upload.chunk:503x20');
    await expect(handles.closeWrite(fd)).rejects.toMatchObject({ code: 'drive_unavailable' });
    env.sandbox.setFaults('');
    expect(await handles.closeWrite(fd)).toEqual({
      size: bytes.length,
      md5: md5(bytes),
      sha256: sha256(bytes),
    });
    expect(notRecomputed(log)).toEqual([]);
  });
});

describe('300 MiB through the engine, the sandbox in its own process (chunk size 1 GiB)', () => {
  let sandbox: ChildSandbox;
  let dir: string;
  beforeAll(async () => {
    sandbox = await startChildSandbox();
    dir = await mkdtemp(join(tmpdir(), 'gdrive-300-'));
  });
  afterAll(async () => {
    await sandbox?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('streams it in odd pieces with RSS that does not grow with the chunk size, and reads it back in parallel ranges', async () => {
    const total = 300 * MIB;
    const config = loadConfig({
      env: { ...sandbox.env, GDRIVE_BACKUP_DATA_DIR: dir },
      flags: { chunkSize: 1024 * MIB, downloadStreams: 4, downloadRangeSize: 16 * MIB, retryBaseMs: 5 },
      readFile: false,
    });
    const chunk = config.chunkSize;
    const handles = new TransferHandles({
      config,
      state: new Keyv(),
      log: silentLog,
      httpFor: async () => sandbox.http,
      pacer: new Pacer({ maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs }),
    });
    const object = { type: 'server' as const, id: null };
    const hash = createHash('sha256');
    const block = bytesOf(MIB, 99);
    const piecePath = join(dir, 'piece');
    // Warm up (token, wasm hashers, sockets, the chunk buffer) before taking the baseline.
    const warm = join(dir, 'warm');
    await writeFile(warm, bytesOf(KIB, 1));
    const warmFd = await handles.openWrite({ object, path: '/w', parentId: 'root', name: 'w' });
    await handles.appendFile(warmFd, warm);
    await handles.closeWrite(warmFd);

    const fd = await handles.openWrite({ object, path: '/big.bin', parentId: 'root', name: 'big.bin' });
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    let sent = 0;
    let seed = 1;
    let expected = '';
    const started = Date.now();
    try {
      while (sent < total) {
        // Odd sizes between ~1 MiB and ~23 MiB, written to disk in 1 MiB blocks (the test's own
        // memory stays small, so RSS growth is the engine's).
        const size = Math.min(total - sent, ((seed * 7_340_033) % (22 * MIB)) + MIB + 1);
        seed++;
        const handle = await open(piecePath, 'w');
        for (let at = 0; at < size; at += block.length) {
          block.writeUInt32LE(seed * 131 + at, 8);
          const piece = block.subarray(0, Math.min(block.length, size - at));
          await handle.write(piece);
          hash.update(piece);
        }
        await handle.close();
        expect(await handles.appendFile(fd, piecePath)).toBe(size);
        sent += size;
      }
      const result = await handles.closeWrite(fd);
      expect(result.size).toBe(total);
      expected = hash.digest('hex');
      expect(result.sha256).toBe(expected);
    } finally {
      clearInterval(sampler);
      await rm(piecePath, { force: true });
    }
    const seconds = (Date.now() - started) / 1000;
    const growthMiB = (peak - baseline) / MIB;
    console.log(
      `upload 300 MiB, chunk ${chunk / MIB} MiB: RSS growth ${growthMiB.toFixed(1)} MiB over ${(baseline / MIB).toFixed(0)} MiB, ${(300 / seconds).toFixed(0)} MiB/s`,
    );
    // Each piece goes in one PUT read from disk in 1 MiB blocks: a few MiB in flight, not the
    // piece (up to 23 MiB) nor the chunk size (1 GiB, which older versions buffered).
    expect(growthMiB).toBeLessThan(30);

    // Back again: a whole-file read in 16 MiB ranges, 4 at a time, md5-checked on the way.
    const listing = await sandbox.http.request<{ files: Array<{ id: string; md5Checksum: string }> }>({
      url: `${config.apiRoot}drive/v3/files?q=${encodeURIComponent("name = 'big.bin'")}&fields=files(id,md5Checksum)`,
    });
    const file = listing.data.files[0]!;
    const rfd = await handles.openRead({
      object,
      path: '/big.bin',
      fileId: file.id,
      size: total,
      md5: file.md5Checksum,
      offset: 0,
    });
    const out = join(dir, 'restored');
    const readStarted = Date.now();
    peak = process.memoryUsage().rss;
    const readBaseline = peak;
    const readSampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      expect(await handles.readFile(rfd, out, null)).toBe(total);
    } finally {
      clearInterval(readSampler);
    }
    console.log(
      `download 300 MiB, 4 x 16 MiB ranges: RSS growth ${((peak - readBaseline) / MIB).toFixed(1)} MiB, ${(300 / ((Date.now() - readStarted) / 1000)).toFixed(0)} MiB/s`,
    );
    expect(await sha256File(out)).toBe(expected);
    // Streamed to disk: less than the 4 x 16 MiB ranges in flight were ever held.
    expect((peak - readBaseline) / MIB).toBeLessThan(64);
    await handles.closeRead(rfd);
  }, 240_000);
});
