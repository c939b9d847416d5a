// The ranged download through TransferHandles against the real sandbox: whole-file reads
// verified by md5, parallel ranges, reads from an offset in sized pieces, the end of the file,
// a wrong md5, and local-file errors.
import { mkdir, mkdtemp, open as openFile, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gaxios } from 'google-auth-library';
import { Keyv } from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import { sliceRanges } from '../../connector/drive/ranged-download.js';
import { READ_AHEAD_DIR, READ_AHEAD_MIN, ReadAheads } from '../../connector/drive/read-ahead.js';
import { Pacer } from '../../connector/drive/retry.js';
import { TransferHandles } from '../../connector/drive/transfer-handles.js';
import { silentLog } from '../../connector/log.js';
import { startTestEnv, type TestEnv, writeLocalFile } from '../helpers/test-env.js';
import {
  bytesOf,
  type DataPathEnv,
  itemNamed,
  md5,
  rangeRequests,
  sha256,
  sha256File,
  startDataPath,
  upload,
} from './data-path-fixture.js';

const KIB = 1024;
const MIB = 1024 * KIB;

describe('ranged download', () => {
  let env: DataPathEnv;
  let content: Buffer;
  let fileId: string;
  const open = (offset: number, md5sum?: string) =>
    env.handles.openRead({
      object: env.object,
      path: '/source.bin',
      fileId,
      size: content.length,
      offset,
      ...(md5sum === undefined ? {} : { md5: md5sum }),
    });

  beforeAll(async () => {
    // 64 KiB ranges (the smallest allowed) and 4 streams, so a few MiB make many GETs.
    env = await startDataPath({
      config: { chunkSize: MIB, downloadStreams: 4, downloadRangeSize: 64 * KIB },
    });
    content = bytesOf(5 * MIB + 4321, 3);
    await upload(env, 'source.bin', [content]);
    fileId = itemNamed(env, 'source.bin').id;
  });
  afterAll(async () => {
    await env.close();
  });

  it('reads a whole file in parallel ranges, byte-identical and md5-verified', async () => {
    const fd = await open(0, md5(content));
    const out = join(env.workDir, 'whole.bin');
    env.sandbox.resetCounters();
    expect(await env.handles.readFile(fd, out, null)).toBe(content.length);
    expect(await sha256File(out)).toBe(sha256(content));
    expect(await sha256File(env.sandbox.contentPath(fileId))).toBe(sha256(content));
    // 81 ranges of 64 KiB would do; 84 equal ones give each of the 4 streams 21.
    expect(rangeRequests(content.length, 64 * KIB, 4)).toBe(84);
    expect(env.sandbox.counters()['files.download']).toBe(84);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(await env.handles.readFile(fd, out, null)).toBe(0);
    expect((await stat(out)).size).toBe(0);
    await env.handles.closeRead(fd);
  });

  it('makes one GET for a read within one range', async () => {
    const fd = await open(100);
    const out = join(env.workDir, 'small.bin');
    env.sandbox.resetCounters();
    expect(await env.handles.readFile(fd, out, 1000)).toBe(1000);
    expect(env.sandbox.counters()['files.download']).toBe(1);
    expect((await readFile(out)).equals(content.subarray(100, 1100))).toBe(true);
    await env.handles.closeRead(fd);
  });

  it('reads from an offset in sized pieces, advancing the position, up to the end', async () => {
    const offset = 777_777;
    const fd = await open(offset);
    const sizes = [1, 65_535, 65_537, 1_000_000, 3 * MIB];
    let at = offset;
    for (const [i, size] of sizes.entries()) {
      const out = join(env.workDir, `piece-${i}`);
      const expected = Math.max(0, Math.min(size, content.length - at));
      expect(await env.handles.readFile(fd, out, size)).toBe(expected);
      expect((await readFile(out)).equals(content.subarray(at, at + expected))).toBe(true);
      at += expected;
    }
    // Past the end: what is there; then at the end: 0 and an empty file.
    const rest = join(env.workDir, 'rest');
    expect(await env.handles.readFile(fd, rest, 10 * MIB)).toBe(content.length - at);
    expect((await readFile(rest)).equals(content.subarray(at))).toBe(true);
    expect(await env.handles.readFile(fd, rest, 10)).toBe(0);
    expect((await stat(rest)).size).toBe(0);
    await env.handles.closeRead(fd);
  });

  it('opening after the end reads nothing', async () => {
    const fd = await open(content.length + 10);
    expect(await env.handles.readFile(fd, join(env.workDir, 'after'), null)).toBe(0);
    await env.handles.closeRead(fd);
  });

  it('a zero-size read returns 0 without a request', async () => {
    const fd = await open(5);
    env.sandbox.resetCounters();
    expect(await env.handles.readFile(fd, join(env.workDir, 'zero'), 0)).toBe(0);
    expect(env.sandbox.counters()['files.download']).toBe(0);
    await env.handles.closeRead(fd);
  });

  it('verifies a whole-file read made of several sized pieces', async () => {
    const fd = await open(0, md5(content));
    let total = 0;
    for (let i = 0; total < content.length; i++)
      total += await env.handles.readFile(fd, join(env.workDir, `v${i}`), 2 * MIB + 1);
    expect(total).toBe(content.length);
    await env.handles.closeRead(fd);
  });

  it('fails a whole-file read whose md5 does not match with read_verification_failed', async () => {
    const fd = await open(0, 'ffffffffffffffffffffffffffffffff');
    await expect(env.handles.readFile(fd, join(env.workDir, 'bad'), null)).rejects.toMatchObject({
      code: 'read_verification_failed',
    });
    await env.handles.closeRead(fd);
  });

  it('reports an unwritable local file as local_file_error', async () => {
    const fd = await open(0);
    await expect(env.handles.readFile(fd, join(env.workDir, 'no-such-dir', 'x'), 10)).rejects.toMatchObject({
      code: 'local_file_error',
    });
    const dir = join(env.workDir, 'is-a-dir');
    await mkdir(dir);
    await expect(env.handles.readFile(fd, dir, 10)).rejects.toMatchObject({ code: 'local_file_error' });
    // The failed reads did not move the position.
    const out = join(env.workDir, 'after-error');
    expect(await env.handles.readFile(fd, out, 10)).toBe(10);
    expect((await readFile(out)).equals(content.subarray(0, 10))).toBe(true);
    await env.handles.closeRead(fd);
  });

  it('rejects negative sizes as bad_request', async () => {
    const fd = await open(0);
    await expect(env.handles.readFile(fd, join(env.workDir, 'neg'), -1)).rejects.toMatchObject({
      code: 'bad_request',
    });
    await env.handles.closeRead(fd);
  });

  it('reads an empty file', async () => {
    await upload(env, 'empty.bin', []);
    const id = itemNamed(env, 'empty.bin').id;
    const fd = await env.handles.openRead({
      object: env.object,
      path: '/empty.bin',
      fileId: id,
      size: 0,
      offset: 0,
      md5: md5(Buffer.alloc(0)),
    });
    const out = join(env.workDir, 'empty-out');
    expect(await env.handles.readFile(fd, out, null)).toBe(0);
    expect((await stat(out)).size).toBe(0);
    await env.handles.closeRead(fd);
  });
});

describe('read-ahead of the next piece', () => {
  let env: DataPathEnv;
  let content: Buffer;
  let fileId: string;
  // Two pieces: the second (the file's rest) is what the first read leaves to read ahead.
  let piece: number;
  const RANGE = 64 * KIB;
  const open = (md5sum?: string, handles = env.handles) =>
    handles.openRead({
      object: env.object,
      path: '/ahead.bin',
      fileId,
      size: content.length,
      offset: 0,
      ...(md5sum === undefined ? {} : { md5: md5sum }),
    });
  const downloads = () => env.sandbox.counters()['files.download'] ?? 0;
  /** The read-ahead file of fd's next piece (after one read of `piece` bytes). */
  const aheadFile = (fd: string) => join(env.dataDir, READ_AHEAD_DIR, `${fd}-${piece}`);
  /** Waits (no time limit but the test's) until `done()` holds. */
  const until = async (done: () => boolean | Promise<boolean>) => {
    while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );

  beforeAll(async () => {
    env = await startDataPath({
      config: { chunkSize: MIB, downloadStreams: 4, downloadRangeSize: RANGE },
    });
    content = bytesOf(5 * MIB + 4321, 11);
    piece = Math.ceil(content.length / 2);
    await upload(env, 'ahead.bin', [content]);
    fileId = itemNamed(env, 'ahead.bin').id;
  });
  afterAll(async () => {
    await env.close();
  });

  it('downloads the next piece while the caller works; the second readFile makes no request and verifies', async () => {
    const fd = await open(md5(content));
    env.sandbox.resetCounters();
    const first = join(env.workDir, 'ahead-1');
    expect(await env.handles.readFile(fd, first, piece)).toBe(piece);
    const both = rangeRequests(piece, RANGE, 4) + rangeRequests(content.length - piece, RANGE, 4);
    // Without a readFile running, the second piece arrives: every range of both pieces is asked.
    await until(() => downloads() === both);
    expect((await stat(aheadFile(fd))).mode & 0o777).toBe(0o600);
    const progress: number[] = [];
    const second = join(env.workDir, 'ahead-2');
    const got = await env.handles.readFile(fd, second, piece, { onProgress: (n) => progress.push(n) });
    expect(got).toBe(content.length - piece);
    expect(downloads()).toBe(both);
    expect(progress.at(-1)).toBe(got);
    expect(Buffer.concat([await readFile(first), await readFile(second)]).equals(content)).toBe(true);
    // Taken: nothing is left in the data dir.
    expect(await exists(aheadFile(fd))).toBe(false);
    await env.handles.closeRead(fd);
  });

  it('the whole-file md5 still catches a wrong checksum when the last piece came from read-ahead', async () => {
    const fd = await open('0123456789abcdef0123456789abcdef');
    await env.handles.readFile(fd, join(env.workDir, 'bad-1'), piece);
    await until(() => exists(aheadFile(fd)));
    await expect(env.handles.readFile(fd, join(env.workDir, 'bad-2'), piece)).rejects.toMatchObject({
      code: 'read_verification_failed',
    });
    expect(await exists(aheadFile(fd))).toBe(false);
    await env.handles.closeRead(fd);
  });

  it('reads many pieces in a row, each but the first from read-ahead, byte-identical and md5-verified', async () => {
    const fd = await open(md5(content));
    // Four pieces of over READ_AHEAD_MIN each.
    const small = Math.ceil(content.length / 4);
    expect(small).toBeGreaterThan(READ_AHEAD_MIN);
    env.sandbox.resetCounters();
    const names: string[] = [];
    for (;;) {
      const name = `row-${names.length}`;
      const got = await env.handles.readFile(fd, join(env.workDir, name), small);
      if (got === 0) break;
      names.push(name);
    }
    expect(names).toHaveLength(4);
    const parts = await Promise.all(names.map((n) => readFile(join(env.workDir, n))));
    expect(Buffer.concat(parts).equals(content)).toBe(true);
    // Every piece downloaded once: the first by its read, the others ahead of theirs.
    const pieces = [0, 1, 2, 3].map((i) => Math.min(small, content.length - i * small));
    expect(downloads()).toBe(pieces.reduce((sum, n) => sum + rangeRequests(n, RANGE, 4), 0));
    expect(await readdir(join(env.dataDir, READ_AHEAD_DIR))).toEqual([]);
    await env.handles.closeRead(fd);
  });

  it('a piece started before the last one is copied out keeps a file of its own', async () => {
    // What readFile does: the next piece starts as soon as this one is downloaded, and this one
    // is copied into its target meanwhile.
    const ahead = new ReadAheads(join(env.workDir, 'ahead-pieces'), silentLog);
    const envFor = async () => ({
      http: env.http,
      pacer: env.pacer,
      apiRoot: env.config.apiRoot,
      streams: 4,
      rangeSize: RANGE,
      log: silentLog,
    });
    const half = 2 * MIB;
    ahead.start('fd', envFor, { fileId, start: 0, end: half, context: {} });
    const first = await ahead.take('fd', 0, half);
    ahead.start('fd', envFor, { fileId, start: half, end: content.length, context: {} });
    const second = await ahead.take('fd', half, content.length);
    const copied: Buffer[] = [];
    for (const [name, ready] of [
      ['first', first],
      ['second', second],
    ] as const) {
      const target = await openFile(join(env.workDir, `ahead-piece-${name}`), 'w+');
      try {
        await ready!.copyTo(target);
      } finally {
        await target.close();
      }
      copied.push(await readFile(join(env.workDir, `ahead-piece-${name}`)));
    }
    expect(copied[0]!.equals(content.subarray(0, half))).toBe(true);
    expect(copied[1]!.equals(content.subarray(half))).toBe(true);
    expect(await readdir(join(env.workDir, 'ahead-pieces', READ_AHEAD_DIR))).toEqual([]);
  });

  it('closeFile removes the piece read ahead', async () => {
    const fd = await open();
    await env.handles.readFile(fd, join(env.workDir, 'close-1'), piece);
    await until(() => exists(aheadFile(fd)));
    await env.handles.closeRead(fd);
    expect(await exists(aheadFile(fd))).toBe(false);
  });

  it('a read of another size discards it and is downloaded itself, still byte-identical and md5-verified', async () => {
    const fd = await open(md5(content));
    env.sandbox.resetCounters();
    await env.handles.readFile(fd, join(env.workDir, 'other-1'), piece);
    const both = rangeRequests(piece, RANGE, 4) + rangeRequests(content.length - piece, RANGE, 4);
    await until(() => downloads() === both);
    const smaller = 1536 * KIB;
    expect(await env.handles.readFile(fd, join(env.workDir, 'other-2'), smaller)).toBe(smaller);
    expect(downloads()).toBeGreaterThanOrEqual(both + rangeRequests(smaller, RANGE, 4));
    // The rest (size null) is never read ahead, and discards the piece of `smaller` bytes.
    const rest = content.length - piece - smaller;
    expect(await env.handles.readFile(fd, join(env.workDir, 'other-3'), null)).toBe(rest);
    const parts = await Promise.all(
      ['other-1', 'other-2', 'other-3'].map((n) => readFile(join(env.workDir, n))),
    );
    expect(Buffer.concat(parts).equals(content)).toBe(true);
    expect(await readdir(join(env.dataDir, READ_AHEAD_DIR))).toEqual([]);
    await env.handles.closeRead(fd);
  });

  it('a restart discards pieces read ahead; the handle carries on from its position', async () => {
    const fd = await open(md5(content));
    await env.handles.readFile(fd, join(env.workDir, 'restart-1'), piece);
    await until(() => exists(aheadFile(fd)));
    const handles = await env.restart();
    expect(await handles.openCount()).toBeGreaterThan(0);
    expect(await exists(join(env.dataDir, READ_AHEAD_DIR))).toBe(false);
    expect(await handles.readFile(fd, join(env.workDir, 'restart-2'), piece)).toBe(content.length - piece);
    const parts = await Promise.all(['restart-1', 'restart-2'].map((n) => readFile(join(env.workDir, n))));
    expect(Buffer.concat(parts).equals(content)).toBe(true);
    await handles.closeRead(fd);
  });

  it('reports the bytes of a downloaded read as they arrive', async () => {
    const fd = await open();
    const progress: number[] = [];
    const size = 3 * MIB;
    await env.handles.readFile(fd, join(env.workDir, 'progress'), size, {
      onProgress: (n) => progress.push(n),
    });
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((n, i) => i === 0 || n > progress[i - 1]!)).toBe(true);
    expect(progress.at(-1)).toBe(size);
    await env.handles.closeRead(fd);
  });
});

describe('restores while access tokens keep expiring (through the connector)', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ config: { downloadRangeSize: 64 * KIB, downloadStreams: 4, maxAttempts: 5 } });
  });
  afterAll(async () => {
    await env.close();
  });

  it('completes three restores byte-identical under files.download:expire%30 (a second 401 is no reconnect)', async () => {
    const bytes = bytesOf(2 * MIB + 99, 12);
    const fd = await env.transport.openFileWrite('/expiring.tar');
    await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'expiring', bytes));
    await env.connector.closeWrite(fd);
    env.sandbox.setFaults('files.download:expire%30');
    for (let i = 0; i < 3; i++) {
      const rfd = await env.transport.openFileRead('/expiring.tar', 0);
      const out = join(env.tmpDir, `restored-${i}`);
      expect(await env.connector.readFile(rfd, out, null)).toBe(bytes.length);
      expect((await readFile(out)).equals(bytes)).toBe(true);
      await env.connector.closeRead(rfd);
    }
    env.sandbox.setFaults('');
  });
});

describe('ranges of a slice', () => {
  it('gives every stream the same share, no range over the range size, every byte once', () => {
    const MIB_ = 1024 * KIB;
    // A Plesk piece: 7 plain 16 MiB ranges would be 4 + 3, the last one 4 MiB.
    const piece = sliceRanges(0, 100 * MIB_, 16 * MIB_, 4);
    expect(piece).toHaveLength(8);
    expect(new Set(piece.map(([a, b]) => b - a))).toEqual(new Set([12.5 * MIB_]));
    for (const [start, end, range, streams] of [
      [0, 1, 64 * KIB, 4],
      [7, 64 * KIB + 7, 64 * KIB, 4],
      [1000, 3 * 256 * KIB + 5, 128 * KIB, 4],
      [0, 150 * KIB + 7, 64 * KIB, 2],
      [123, 5 * MIB_ + 4321, 64 * KIB, 3],
    ] as const) {
      const ranges = sliceRanges(start, end, range, streams);
      expect(ranges[0]![0]).toBe(start);
      expect(ranges.at(-1)![1]).toBe(end);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1]);
      const lengths = ranges.map(([a, b]) => b - a);
      expect(Math.max(...lengths)).toBeLessThanOrEqual(range);
      // Equal but for the last, which is never longer.
      expect(new Set(lengths.slice(0, -1)).size).toBeLessThanOrEqual(1);
      expect(lengths.at(-1)).toBeLessThanOrEqual(lengths[0]!);
      if (ranges.length > 1)
        expect(ranges.length % streams === 0 || lengths.at(-1)! < lengths[0]!).toBe(true);
      expect(ranges).toHaveLength(rangeRequests(end - start, range, streams));
    }
    expect(sliceRanges(5, 5, 64 * KIB, 4)).toEqual([]);
  });
});

/** Drive's 206 answer to a ranged GET of `body`. */
function answerRange(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const [, a, b] = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')!;
  const slice = body.subarray(Number(a), Number(b) + 1);
  res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${body.length}`, 'content-length': slice.length });
  res.end(slice);
}

/**
 * A read handle on `/<fileId>.tar` (of `body`) whose Drive is `api`, a local server of the test's
 * own: 64 KiB ranges over 2 streams, with `authorization` on every request when given.
 */
async function readFrom(api: Server, dataDir: string, fileId: string, body: Buffer, authorization?: string) {
  const apiRoot = `http://127.0.0.1:${(api.address() as AddressInfo).port}/`;
  const config = loadConfig({
    env: { GDRIVE_BACKUP_DATA_DIR: dataDir, GDRIVE_API_ROOT: apiRoot },
    flags: { downloadRangeSize: 64 * KIB, downloadStreams: 2, retryBaseMs: 1 },
    readFile: false,
  });
  const client = new gaxios.Gaxios();
  const handles = new TransferHandles({
    config,
    state: new Keyv(),
    log: silentLog,
    httpFor: async () => ({
      request: (o) => client.request(authorization ? { ...o, headers: { ...o.headers, authorization } } : o),
    }),
    pacer: new Pacer({ maxAttempts: 3, baseMs: 1 }),
  });
  const fd = await handles.openRead({
    object: { type: 'server', id: null },
    path: `/${fileId}.tar`,
    fileId,
    size: body.length,
    md5: md5(body),
    offset: 0,
  });
  return { handles, fd };
}

describe('ranged GETs redirected elsewhere', () => {
  it('follow the redirect, without the Authorization header once the origin changes', async () => {
    const body = bytesOf(150 * KIB + 7, 13);
    const authSeen: Array<string | undefined> = [];
    const content = createServer((req, res) => {
      authSeen.push(req.headers.authorization);
      answerRange(req, res, body);
    });
    await new Promise<void>((resolve) => content.listen(0, '127.0.0.1', resolve));
    const contentPort = (content.address() as AddressInfo).port;
    const api = createServer((req, res) => {
      authSeen.push(req.headers.authorization);
      res.writeHead(302, { location: `http://127.0.0.1:${contentPort}/media${req.url ?? ''}` });
      res.end();
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const dataDir = await mkdtemp(join(tmpdir(), 'gdrive-redirect-'));
    try {
      const { handles, fd } = await readFrom(api, dataDir, 'moved', body, 'Bearer secret');
      const out = join(dataDir, 'out');
      expect(await handles.readFile(fd, out, null)).toBe(body.length);
      expect((await readFile(out)).equals(body)).toBe(true);
      // 4 ranges (2 rounds of the 2 streams): each asked of the API with the token, then of the
      // other origin without it.
      expect(authSeen).toHaveLength(8);
      expect(authSeen.filter((a) => a === 'Bearer secret')).toHaveLength(4);
      expect(authSeen.filter((a) => a === undefined)).toHaveLength(4);
    } finally {
      await new Promise((resolve) => api.close(resolve));
      await new Promise((resolve) => content.close(resolve));
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a file Drive flags as abusive', () => {
  it('is read with acknowledgeAbuse=true after Drive answers cannotDownloadAbusiveFile', async () => {
    const body = bytesOf(200 * KIB + 1, 8);
    const seen: string[] = [];
    // Drive's answer for such files, on a real socket: 403 unless the caller acknowledges.
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.searchParams.get('acknowledgeAbuse') !== 'true') {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { code: 403, message: 'flagged', errors: [{ reason: 'cannotDownloadAbusiveFile' }] },
          }),
        );
        return;
      }
      answerRange(req, res, body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dataDir = await mkdtemp(join(tmpdir(), 'gdrive-abuse-'));
    try {
      const { handles, fd } = await readFrom(server, dataDir, 'flagged', body);
      const out = join(dataDir, 'out');
      expect(await handles.readFile(fd, out, null)).toBe(body.length);
      expect((await readFile(out)).equals(body)).toBe(true);
      // Refused at most once per stream (the first ranges run in parallel), then every range
      // with the acknowledgement.
      expect(seen.filter((u) => !u.includes('acknowledgeAbuse')).length).toBeGreaterThanOrEqual(1);
      expect(seen.filter((u) => !u.includes('acknowledgeAbuse')).length).toBeLessThanOrEqual(2);
      expect(seen.filter((u) => u.includes('acknowledgeAbuse=true'))).toHaveLength(4);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
