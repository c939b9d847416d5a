// What an upload must never do, through the connector and its transport against the real
// sandbox: finish a short file after a failed append (it aborts and says the file was not
// stored), lose the previous copy of a name when the rewrite fails, break an open handle when
// a restart changes the chunk size, keep a handle after a final failure, or send a range that
// overlaps what Drive holds after a restart. Also: one PUT per piece, and the progress callback.
import { readFileSync, truncateSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spoolDir } from '../../connector/drive/spool.js';
import { ERRORS } from '../../connector/errors/errors.js';
import { md5, sha256, startTestEnv, type TestEnv, writeLocalFile } from '../helpers/test-env.js';
import { bytesOf } from './data-path-fixture.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const GRANULE = 256 * KIB;

describe('upload safety', () => {
  let env: TestEnv;
  let n = 0;
  beforeEach(async () => {
    env = await startTestEnv({ config: { maxAttempts: 8 } });
    await env.transport.createDir('/backups');
  });
  afterEach(async () => {
    await env.close();
  });

  const local = (bytes: Buffer) => writeLocalFile(env.tmpDir, `piece-${n++}`, bytes);
  const named = (name: string) => env.sandbox.items().filter((i) => i.name === name && !i.trashed);

  async function write(path: string, bytes: Buffer): Promise<void> {
    const fd = await env.transport.openFileWrite(path);
    await env.connector.appendFile(fd, await local(bytes));
    await env.connector.closeWrite(fd);
  }

  async function readBack(path: string): Promise<Buffer> {
    const fd = await env.transport.openFileRead(path, 0);
    const out = join(env.tmpDir, `read-${n++}`);
    await env.connector.readFile(fd, out, null);
    await env.connector.closeRead(fd);
    return readFile(out);
  }

  it('a close after an append that failed (503 eight times) stores nothing and says so', async () => {
    // Small PUTs, so that older versions (which sent only full chunks) sent during the append too.
    await env.reopen({ chunkSize: GRANULE });
    const fd = await env.transport.openFileWrite('/backups/short.tar');
    await env.connector.appendFile(fd, await local(bytesOf(2 * MIB + 7, 1)));
    env.sandbox.setFaults('upload.chunk:503x8');
    const failed = await env.connector
      .appendFile(fd, await local(bytesOf(3 * MIB, 2)))
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'drive_unavailable' });
    env.sandbox.resetCounters();
    // The faults are used up: a close that finished the upload now would store 2 MiB of 5.
    const error = await env.connector.closeWrite(fd).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'upload_incomplete', status: 409 });
    expect((error as Error).message).toContain('"/backups/short.tar" was not stored');
    expect(named('short.tar')).toEqual([]);
    expect(await env.transport.stat('/backups/short.tar')).toBeNull();
    // The session was cancelled, not finished.
    expect(env.sandbox.counters()['upload.cancel']).toBe(1);
    expect(env.sandbox.counters()['upload.chunk']).toBe(0);
    // The handle and its tail are gone at once.
    await expect(stat(spoolDir(env.dataDir, fd))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(env.connector.closeWrite(fd)).rejects.toMatchObject({
      code: 'unknown_handle',
      message: ERRORS.unknown_handle.message.replace('{fd}', fd),
    });
    expect(await env.connector.openHandles()).toBe(0);
  });

  it('after a failed append the same append again carries on, asking Drive where it is first', async () => {
    await env.reopen({ chunkSize: GRANULE });
    const bytes = bytesOf(5 * MIB + 3, 3);
    const fd = await env.transport.openFileWrite('/backups/again.tar');
    await env.connector.appendFile(fd, await local(bytes.subarray(0, 2 * MIB + 7)));
    const second = await local(bytes.subarray(2 * MIB + 7));
    // Drive takes part of the piece, then keeps failing.
    env.sandbox.setFaults('upload.chunk:short308@1;upload.chunk:503@2x8');
    await expect(env.connector.appendFile(fd, second)).rejects.toMatchObject({ code: 'drive_unavailable' });
    env.sandbox.setFaults('');
    env.sandbox.resetCounters();
    expect(await env.connector.appendFile(fd, second)).toBe(bytes.length - (2 * MIB + 7));
    // Asked first, then PUTs of the rest of the aligned part (256 KiB each here): none of them
    // overlaps what Drive holds, which the sandbox would refuse.
    expect(env.sandbox.counters()['upload.status']).toBe(1);
    expect(await env.connector.closeWrite(fd)).toEqual({
      size: bytes.length,
      md5: md5(bytes),
      sha256: sha256(bytes),
    });
  });

  it('a rewrite that fails (Drive full) keeps the previous copy, complete and the only one by that name', async () => {
    const old = bytesOf(MIB + 5, 4);
    await write('/backups/full.tar', old);
    const fd = await env.transport.openFileWrite('/backups/full.tar');
    // Between open and close the old copy is what reads see.
    expect(await env.transport.stat('/backups/full.tar')).toMatchObject({ size: old.length, hash: md5(old) });
    await env.connector.appendFile(fd, await local(bytesOf(600 * KIB, 5)));
    const used = env.sandbox.items().reduce((sum, i) => sum + i.size, 0);
    env.sandbox.setQuota(used + 700 * KIB);
    const failed = await env.connector
      .appendFile(fd, await local(bytesOf(2 * MIB, 6)))
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'drive_full' });
    await expect(env.connector.closeWrite(fd)).rejects.toMatchObject({ code: 'upload_incomplete' });
    env.sandbox.setQuota(null);
    expect(named('full.tar')).toHaveLength(1);
    expect(await env.transport.stat('/backups/full.tar')).toMatchObject({ size: old.length, hash: md5(old) });
    expect((await env.transport.listDir('/backups')).map((e) => e.name)).toEqual(['full.tar']);
    expect((await readBack('/backups/full.tar')).equals(old)).toBe(true);
  });

  it('a rewrite that succeeds removes the previous copy only once the new one is verified', async () => {
    await write('/backups/rewrite.tar', bytesOf(MIB, 7));
    const oldId = named('rewrite.tar')[0]!.id;
    const fresh = bytesOf(3 * MIB + 1, 8);
    const fd = await env.transport.openFileWrite('/backups/rewrite.tar');
    await env.connector.appendFile(fd, await local(fresh));
    expect(named('rewrite.tar').map((i) => i.id)).toEqual([oldId]);
    // A restart between open and close keeps what the handle replaces.
    await env.reopen();
    expect((await env.connector.closeWrite(fd)).md5).toBe(md5(fresh));
    const now = named('rewrite.tar');
    expect(now).toHaveLength(1);
    expect(now[0]!.id).not.toBe(oldId);
    expect((await readBack('/backups/rewrite.tar')).equals(fresh)).toBe(true);
  });

  it('a restart with another chunk size carries on with the one the handle began with', async () => {
    await env.reopen({ chunkSize: MIB });
    const bytes = bytesOf(4 * MIB + 300 * KIB, 9);
    const first = MIB + 300 * KIB;
    const fd = await env.transport.openFileWrite('/backups/chunk.tar');
    await env.connector.appendFile(fd, await local(bytes.subarray(0, first)));
    await env.reopen({ chunkSize: GRANULE });
    env.sandbox.resetCounters();
    await env.connector.appendFile(fd, await local(bytes.subarray(first)));
    // 3 MiB of whole granules after the tail, in PUTs of at most 1 MiB (not 12 of 256 KiB).
    expect(env.sandbox.counters()['upload.chunk']).toBe(3);
    expect(await env.connector.closeWrite(fd)).toMatchObject({ size: bytes.length, md5: md5(bytes) });
    expect((await readBack('/backups/chunk.tar')).equals(bytes)).toBe(true);
  });

  it('after a restart the first request of a handle asks Drive where it is', async () => {
    const bytes = bytesOf(3 * MIB + 11, 10);
    const fd = await env.transport.openFileWrite('/backups/asks.tar');
    await env.connector.appendFile(fd, await local(bytes.subarray(0, MIB + 1)));
    env.sandbox.resetCounters();
    await env.connector.appendFile(fd, await local(bytes.subarray(MIB + 1, 2 * MIB + 1)));
    // Same process, its own record: no question.
    expect(env.sandbox.counters()['upload.status']).toBe(0);
    await env.reopen();
    env.sandbox.resetCounters();
    await env.connector.appendFile(fd, await local(bytes.subarray(2 * MIB + 1)));
    expect(env.sandbox.counters()['upload.status']).toBe(1);
    expect((await env.connector.closeWrite(fd)).md5).toBe(md5(bytes));
  });

  it("carries on when Drive holds part of a granule (a PUT cut off mid-body): chunk lengths count from Drive's offset", async () => {
    const bytes = bytesOf(MIB + 300 * KIB, 21);
    const fd = await env.transport.openFileWrite('/backups/cut.tar');
    await env.connector.appendFile(fd, await local(bytes.subarray(0, 300 * KIB)));
    // Another process sent the next granule and died after 1000 bytes: Drive keeps what came
    // (Google's guide shows "Range: bytes=0-42" after such a cut), so its offset is unaligned.
    const token = await accessToken(env);
    await cutOffPut(sessionUriOf(env.dataDir), token, GRANULE, bytes.subarray(GRANULE, 2 * GRANULE), 1000);
    expect(env.sandbox.counters()['upload.chunk']).toBeGreaterThan(0);
    await env.reopen();
    await env.connector.appendFile(fd, await local(bytes.subarray(300 * KIB)));
    expect(await env.connector.closeWrite(fd)).toMatchObject({ size: bytes.length, md5: md5(bytes) });
  });

  it('a final failure at close (Drive full) removes the handle and its tail at once', async () => {
    const fd = await env.transport.openFileWrite('/backups/final.tar');
    await env.connector.appendFile(fd, await local(bytesOf(MIB + 100 * KIB, 11)));
    expect((await stat(spoolDir(env.dataDir, fd))).isDirectory()).toBe(true);
    const used = env.sandbox.items().reduce((sum, i) => sum + i.size, 0);
    env.sandbox.setQuota(used + 10 * KIB);
    await expect(env.connector.closeWrite(fd)).rejects.toMatchObject({ code: 'drive_full' });
    env.sandbox.setQuota(null);
    await expect(stat(spoolDir(env.dataDir, fd))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await env.connector.openHandles()).toBe(0);
    await expect(env.connector.appendFile(fd, await local(bytesOf(1)))).rejects.toMatchObject({
      code: 'unknown_handle',
    });
    expect(named('final.tar')).toEqual([]);
  });

  it('a local file that shrinks while its request is streaming fails with local_file_error, not retried', async () => {
    const fd = await env.transport.openFileWrite('/backups/shrinks.tar');
    const file = await local(bytesOf(6 * MIB, 13));
    env.sandbox.resetCounters();
    const error = await env.connector
      .appendFile(fd, file, { onProgress: () => truncateSync(file, MIB) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'local_file_error', status: 400 });
    expect((error as Error).message).toContain('it became shorter while it was being read');
    expect(env.sandbox.counters()['upload.status']).toBe(0);
    expect(env.sandbox.counters()['upload.chunk']).toBeLessThanOrEqual(1);
    // A failed append: the close does not store the file.
    await expect(env.connector.closeWrite(fd)).rejects.toMatchObject({ code: 'upload_incomplete' });
    expect(named('shrinks.tar')).toEqual([]);
  });

  it('costs one PUT per piece plus the last, and reports progress as the bytes go out', async () => {
    const pieces = [3 * MIB + 5, 2 * MIB + 77, 5 * MIB];
    const bytes = bytesOf(
      pieces.reduce((a, b) => a + b),
      12,
    );
    const fd = await env.transport.openFileWrite('/backups/pieces.tar');
    env.sandbox.resetCounters();
    const seen: number[][] = [];
    let at = 0;
    for (const size of pieces) {
      const progress: number[] = [];
      const file = await local(bytes.subarray(at, at + size));
      await env.connector.appendFile(fd, file, { onProgress: (sent) => progress.push(sent) });
      seen.push(progress);
      at += size;
    }
    await env.connector.closeWrite(fd);
    expect(env.sandbox.counters()['upload.start']).toBe(1);
    expect(env.sandbox.counters()['upload.chunk']).toBe(pieces.length + 1);
    for (const [i, progress] of seen.entries()) {
      // Several reports per piece (about one per MiB), rising, ending at the piece's size.
      expect(progress.length).toBeGreaterThan(2);
      expect(progress.at(-1)).toBe(pieces[i]);
      for (let k = 1; k < progress.length; k++) expect(progress[k]!).toBeGreaterThan(progress[k - 1]!);
    }
    expect((await readBack('/backups/pieces.tar')).equals(bytes)).toBe(true);
  });
});

/** The one resumable session URI the data dir's state file holds. */
function sessionUriOf(dataDir: string): string {
  const match = /"sessionUri\\?":\\?"([^"\\]+)/.exec(readFileSync(join(dataDir, 'state.json'), 'utf8'));
  if (!match) throw new Error('no session URI in state.json');
  return match[1]!;
}

/** A PUT of `data` at `offset` that sends only `sent` bytes of it, then drops the connection. */
async function cutOffPut(
  sessionUri: string,
  token: string,
  offset: number,
  data: Buffer,
  sent: number,
): Promise<void> {
  const req = request(sessionUri, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${token}`,
      'content-length': String(data.length),
      'content-range': `bytes ${offset}-${offset + data.length - 1}/*`,
    },
  });
  req.on('error', () => undefined);
  req.write(data.subarray(0, sent));
  await new Promise((resolve) => setTimeout(resolve, 300));
  req.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
}

/** An access token of the connected account, as another process of the same client would hold. */
async function accessToken(env: TestEnv): Promise<string> {
  const answer = await fetch(env.sandbox.env.GDRIVE_OAUTH_TOKEN_URL, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: env.sandbox.issueRefreshToken(),
      client_id: env.sandbox.env.GDRIVE_CLIENT_ID,
      client_secret: env.sandbox.env.GDRIVE_CLIENT_SECRET,
    }),
  });
  return ((await answer.json()) as { access_token: string }).access_token;
}
