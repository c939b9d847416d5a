// A connector restarted between calls carries on with the same fd: a new TransferHandles over a
// new state store opened on the same file and the same data dir. Also: a call cut off in the
// middle and repeated, abandoned handles purged, and read handles resumed. The sha256 lives in
// memory only: after a restart (or a record that moved on without it) the upload is verified by
// size and md5 and the sha256 reported is Drive's.
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UploadRecord } from '../../connector/drive/resumable-upload.js';
import { spoolDir, writeTail } from '../../connector/drive/spool.js';
import { UploadHash } from '../../connector/drive/stream-hash.js';
import type { TransferHandles } from '../../connector/drive/transfer-handles.js';
import { recordingLog } from '../helpers/test-env.js';
import {
  bytesOf,
  type DataPathEnv,
  handlesLogging,
  itemNamed,
  localFile,
  md5,
  openWrite,
  sha256,
  sha256File,
  startDataPath,
} from './data-path-fixture.js';

const KIB = 1024;
const CHUNK = 256 * KIB;

describe('restart', () => {
  let env: DataPathEnv;
  beforeEach(async () => {
    env = await startDataPath({ config: { chunkSize: CHUNK } });
  });
  afterEach(async () => {
    await env.close();
  });

  /**
   * Runs `call` as if the process died after it sent its chunks but before it kept its record:
   * the record and the kept tail of before the call come back, Drive keeps what it got.
   */
  async function cutOff(
    fd: string,
    call: () => Promise<unknown>,
    { offsetKept = true }: { offsetKept?: boolean } = {},
  ): Promise<void> {
    const before = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
    const dir = spoolDir(env.dataDir, fd);
    const tails = new Map<string, Buffer>();
    for (const name of await readdir(dir).catch(() => [])) tails.set(name, await readFile(join(dir, name)));
    await call();
    const after = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
    expect(after.offset).toBeGreaterThan(before.appended - before.tailLength);
    await mkdir(dir, { recursive: true });
    for (const [name, bytes] of tails) await writeFile(join(dir, name), bytes, { mode: 0o600 });
    await env.state.set(`transfer:${fd}`, {
      ...before,
      sessionUri: after.sessionUri,
      offset: offsetKept ? after.offset : before.offset,
    });
  }

  const open = (name: string) => openWrite(env, name);

  const cases: Array<[string, number]> = [
    ['before any byte was sent (tail only, no session)', 1000],
    ['with a session and a kept tail', CHUNK + 77_777],
    ['with a full chunk held back', 2 * CHUNK],
  ];
  for (const [label, first] of cases) {
    it(`finishes the same fd after a restart between two appends, ${label}`, async () => {
      const bytes = bytesOf(first + CHUNK + 4321, first);
      const fd = await open('restarted.bin');
      await env.handles.appendFile(fd, await localFile(env, 'p1', bytes.subarray(0, first)));
      const before = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
      expect(before.appended).toBe(first);
      expect(before.tailLength).toBeGreaterThan(0);
      // The tail waits on disk, private.
      const tails = await readdir(spoolDir(env.dataDir, fd));
      expect(tails).toEqual([`tail-${first - before.tailLength}`]);
      expect((await stat(join(spoolDir(env.dataDir, fd), tails[0]!))).mode & 0o777).toBe(0o600);

      const handles = await env.restart();
      expect(await handles.openCount()).toBe(1);
      await handles.appendFile(fd, await localFile(env, 'p2', bytes.subarray(first)));
      const result = await handles.closeWrite(fd);
      expect(result).toEqual({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
      expect(await sha256File(env.sandbox.contentPath(itemNamed(env, 'restarted.bin').id))).toBe(
        sha256(bytes),
      );
      expect(await handles.openCount()).toBe(0);
      await expect(stat(spoolDir(env.dataDir, fd))).rejects.toMatchObject({ code: 'ENOENT' });
    });
  }

  /** Handles over the env's current store (as after a restart) that log to a recording log. */
  function recordingHandles(): { handles: TransferHandles; log: ReturnType<typeof recordingLog> } {
    const log = recordingLog();
    return { handles: handlesLogging(env, log), log };
  }
  const notRecomputed = (log: ReturnType<typeof recordingLog>) =>
    log.entries.filter((e) => e.level === 'info' && e.message.includes('sha256 not re-computed'));

  it("after a restart between appends verifies by md5 and reports Drive's sha256, which is the local file's", async () => {
    const bytes = bytesOf(3 * CHUNK + 555, 17);
    const first = CHUNK + 3000;
    const fd = await open('sha256-lost.bin');
    await env.handles.appendFile(fd, await localFile(env, 's1', bytes.subarray(0, first)));
    expect((await env.state.get<UploadRecord>(`transfer:${fd}`))!.sha256).toBe('live');
    await env.restart();
    const { handles, log } = recordingHandles();
    await handles.appendFile(fd, await localFile(env, 's2', bytes.subarray(first, 2 * CHUNK + 1)));
    // The record now says no sha256 covers every byte, and stays so.
    expect((await env.state.get<UploadRecord>(`transfer:${fd}`))!.sha256).toBe('lost');
    await handles.appendFile(fd, await localFile(env, 's3', bytes.subarray(2 * CHUNK + 1)));
    expect((await env.state.get<UploadRecord>(`transfer:${fd}`))!.sha256).toBe('lost');
    const result = await handles.closeWrite(fd);
    expect(result).toEqual({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
    const item = env.sandbox.items().find((i) => i.name === 'sha256-lost.bin')!;
    expect(item.md5).toBe(md5(bytes));
    expect(notRecomputed(log)).toHaveLength(1);
    expect(notRecomputed(log)[0]!.fields).toMatchObject({ fd, bytes: bytes.length });
  });

  it('a cut-off call repeated without a restart does not trust the sha256 that saw it', async () => {
    const bytes = bytesOf(4 * CHUNK + 77, 18);
    const first = CHUNK + 10;
    const { handles, log } = recordingHandles();
    const fd = await openWrite(env, 'cut-live.bin', handles);
    await handles.appendFile(fd, await localFile(env, 'cl1', bytes.subarray(0, first)));
    const second = await localFile(env, 'cl2', bytes.subarray(first));
    // The record goes back to before the call, the in-memory sha256 has seen the call's bytes:
    // fed them again it would count them twice and the upload would fail verification.
    await cutOff(fd, () => handles.appendFile(fd, second));
    await handles.appendFile(fd, second);
    expect(await handles.closeWrite(fd)).toEqual({
      size: bytes.length,
      md5: md5(bytes),
      sha256: sha256(bytes),
    });
    expect(notRecomputed(log)).toHaveLength(1);
  });

  it('finishes after a restart right before closeWrite', async () => {
    const bytes = bytesOf(3 * CHUNK + 5, 9);
    const fd = await open('close-after-restart.bin');
    await env.handles.appendFile(fd, await localFile(env, 'c1', bytes));
    const handles = await env.restart();
    expect((await handles.closeWrite(fd)).sha256).toBe(sha256(bytes));
  });

  it('a call cut off after Drive got some of its chunks, repeated after the restart, still verifies', async () => {
    const bytes = bytesOf(6 * CHUNK + 999, 10);
    const first = CHUNK + 100;
    const fd = await open('cut-off.bin');
    await env.handles.appendFile(fd, await localFile(env, 'x1', bytes.subarray(0, first)));
    const second = await localFile(env, 'x2', bytes.subarray(first));
    await cutOff(fd, () => env.handles.appendFile(fd, second));
    const handles = await env.restart();
    env.sandbox.resetCounters();
    // The caller repeats the call: what Drive already has is not sent again.
    await handles.appendFile(fd, second);
    expect((await handles.closeWrite(fd)).sha256).toBe(sha256(bytes));
    expect(await sha256File(env.sandbox.contentPath(itemNamed(env, 'cut-off.bin').id))).toBe(sha256(bytes));
    // The restarted call asks Drive first, finds all of its aligned part there (hashed from the
    // local file, not sent again), and only the last PUT goes: no range overlaps Drive's bytes.
    expect(env.sandbox.counters()['upload.status']).toBe(1);
    expect(env.sandbox.counters()['upload.chunk']).toBe(1);
  });

  it('a call cut off before Drive could answer it, repeated after the restart, keeps what Drive said', async () => {
    const bytes = bytesOf(6 * CHUNK + 999, 19);
    const first = CHUNK + 100;
    const fd = await open('unanswered.bin');
    await env.handles.appendFile(fd, await localFile(env, 'u1', bytes.subarray(0, first)));
    const second = await localFile(env, 'u2', bytes.subarray(first, 4 * CHUNK + 5));
    // Drive persisted the call's PUTs, but the record never heard of them.
    await cutOff(fd, () => env.handles.appendFile(fd, second), { offsetKept: false });
    const handles = await env.restart();
    await handles.appendFile(fd, second);
    // The next call trusts the record this process left: it must hold Drive's offset.
    await handles.appendFile(fd, await localFile(env, 'u3', bytes.subarray(4 * CHUNK + 5)));
    expect((await handles.closeWrite(fd)).md5).toBe(md5(bytes));
    expect(await sha256File(env.sandbox.contentPath(itemNamed(env, 'unanswered.bin').id))).toBe(
      sha256(bytes),
    );
  });

  it('a cut-off call followed by different bytes fails verification instead of storing a wrong file', async () => {
    const bytes = bytesOf(4 * CHUNK + 1, 11);
    const fd = await open('diverged.bin');
    await env.handles.appendFile(fd, await localFile(env, 'd1', bytes.subarray(0, 1000)));
    const d2 = await localFile(env, 'd2', bytes.subarray(1000));
    await cutOff(fd, () => env.handles.appendFile(fd, d2));
    const handles = await env.restart();
    const other = bytesOf(bytes.length - 1000, 12);
    await handles.appendFile(fd, await localFile(env, 'd3', other));
    await expect(handles.closeWrite(fd)).rejects.toMatchObject({ code: 'verification_failed' });
    expect(env.sandbox.items().filter((i) => i.name === 'diverged.bin')).toHaveLength(0);
  });

  it('ignores a tail written by a call whose record was never kept', async () => {
    const bytes = bytesOf(2 * CHUNK + 10, 13);
    const fd = await open('orphan-tail.bin');
    await env.handles.appendFile(fd, await localFile(env, 'o1', bytes.subarray(0, 500)));
    const o2 = await localFile(env, 'o2', bytes.subarray(500, CHUNK + 600));
    await cutOff(fd, () => env.handles.appendFile(fd, o2));
    // Both the old tail and the one of the cut-off call are on disk.
    expect((await readdir(spoolDir(env.dataDir, fd))).sort()).toEqual(['tail-0', `tail-${CHUNK}`]);
    const handles = await env.restart();
    await handles.appendFile(fd, o2);
    await handles.appendFile(fd, await localFile(env, 'o3', bytes.subarray(CHUNK + 600)));
    expect((await handles.closeWrite(fd)).sha256).toBe(sha256(bytes));
  });

  it('carries on a record of an older version: no chunk size, a tail larger than 256 KiB', async () => {
    const bytes = bytesOf(5 * CHUNK + 123, 20);
    const kept = 3 * CHUNK + 7;
    const fd = await open('older-record.bin');
    // What a version that buffered a whole 1 MiB chunk left: everything still in its tail.
    const hash = await UploadHash.create();
    hash.update(bytes.subarray(0, kept));
    await writeTail(env.dataDir, fd, 0, bytes.subarray(0, kept));
    const { chunkSize: _, ...record } = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
    await env.state.set(`transfer:${fd}`, {
      ...record,
      appended: kept,
      tailLength: kept,
      hashState: hash.save(),
      sha256: 'lost',
    });
    const handles = await env.restart();
    await handles.appendFile(fd, await localFile(env, 'older-2', bytes.subarray(kept)));
    expect(await handles.closeWrite(fd)).toMatchObject({ size: bytes.length, md5: md5(bytes) });
    expect(await sha256File(env.sandbox.contentPath(itemNamed(env, 'older-record.bin').id))).toBe(
      sha256(bytes),
    );
  });

  it('resumes a whole-file read after a restart and still verifies its md5', async () => {
    const bytes = bytesOf(3 * CHUNK + 3, 14);
    const fd = await open('read-me.bin');
    await env.handles.appendFile(fd, await localFile(env, 'r', bytes));
    await env.handles.closeWrite(fd);
    const id = itemNamed(env, 'read-me.bin').id;
    const rfd = await env.handles.openRead({
      object: env.object,
      path: '/read-me.bin',
      fileId: id,
      size: bytes.length,
      md5: md5(bytes),
      offset: 0,
    });
    const a = join(env.workDir, 'ra');
    expect(await env.handles.readFile(rfd, a, CHUNK)).toBe(CHUNK);
    const handles = await env.restart();
    const b = join(env.workDir, 'rb');
    expect(await handles.readFile(rfd, b, null)).toBe(bytes.length - CHUNK);
    expect(Buffer.concat([await readFile(a), await readFile(b)]).equals(bytes)).toBe(true);
    await handles.closeRead(rfd);
  });

  it('purges handles older than the session lifetime, with their kept tails', async () => {
    const fd = await open('abandoned.bin');
    await env.handles.appendFile(fd, await localFile(env, 'ab', bytesOf(5000, 15)));
    const rfd = await env.handles.openRead({
      object: env.object,
      path: '/x',
      fileId: 'x',
      size: 1,
      offset: 0,
    });
    const young = await open('young.bin');
    const record = (await env.state.get<UploadRecord>(`transfer:${fd}`))!;
    const eightDays = 8 * 24 * 3600 * 1000;
    await env.state.set(`transfer:${fd}`, { ...record, createdAt: record.createdAt - eightDays });
    const index = (await env.state.get<Record<string, number>>('transfer-index'))!;
    await env.state.set('transfer-index', {
      ...index,
      [fd]: index[fd]! - eightDays,
      [rfd]: index[rfd]! - eightDays,
    });
    // A spool nobody owns, old enough.
    const strayDir = spoolDir(env.dataDir, `w-${'a'.repeat(32)}`);
    await mkdir(strayDir, { recursive: true });
    const old = new Date(Date.now() - eightDays);
    await utimes(strayDir, old, old);

    // A restarted connector purges at construction.
    const handles = await env.restart();
    expect(await handles.openCount()).toBe(1);
    await expect(handles.appendFile(fd, await localFile(env, 'ab2', bytesOf(1)))).rejects.toMatchObject({
      code: 'unknown_handle',
    });
    await expect(handles.closeRead(rfd)).rejects.toMatchObject({ code: 'unknown_handle' });
    await expect(stat(spoolDir(env.dataDir, fd))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(strayDir)).rejects.toMatchObject({ code: 'ENOENT' });
    await handles.appendFile(young, await localFile(env, 'y', bytesOf(10, 16)));
    expect((await handles.closeWrite(young)).size).toBe(10);
    expect(await handles.purgeStale(0)).toBe(0);
  });
});
