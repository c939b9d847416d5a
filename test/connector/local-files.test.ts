// Local files of appendFile and readFile are checked where they are opened, not by path
// beforehand: real symbolic links swapped in after the exchange-directory check (also while the
// call waits on its fd's lock), links to /etc/passwd, directory links leading outside, read
// targets that are links, and FIFOs and other non-regular files, refused at once.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalForAppend, openLocalForRead } from '../../connector/drive/local-files.js';
import { TransferHandles } from '../../connector/drive/transfer-handles.js';
import { silentLog } from '../../connector/log.js';
import { confineLocalFile } from '../../connector/service/exchange-dirs.js';
import {
  bytesOf,
  type DataPathEnv,
  itemNamed,
  md5,
  openWrite,
  startDataPath,
  upload,
} from './data-path-fixture.js';

const KIB = 1024;

let env: DataPathEnv;
let exchange: string;
let outside: string;
let allowedDirs: string[];
const fifos: string[] = [];
const passwd = () => readFile('/etc/passwd');

beforeAll(async () => {
  env = await startDataPath({ config: { chunkSize: 256 * KIB, downloadRangeSize: 64 * KIB } });
  exchange = await mkdtemp(join(tmpdir(), 'gdrive-exchange-'));
  outside = await mkdtemp(join(tmpdir(), 'gdrive-outside-'));
  allowedDirs = [exchange];
});

afterAll(async () => {
  // Should an open have blocked on a FIFO (the old behaviour), a writer lets it go.
  for (const fifo of fifos) {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader waiting: nothing to release
    }
  }
  await rm(exchange, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
  await env.close();
});

function mkfifo(path: string): string {
  execFileSync('mkfifo', ['-m', '600', path]);
  fifos.push(path);
  return path;
}

/** TransferHandles whose calls stop inside the fd's lock until `release()` (httpFor waits). */
function gatedHandles(): { handles: TransferHandles; entered: Promise<void>; release: () => void } {
  let release!: () => void;
  let enter!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const entered = new Promise<void>((resolve) => {
    enter = resolve;
  });
  const handles = new TransferHandles({
    config: env.config,
    state: env.state,
    log: silentLog,
    pacer: env.pacer,
    httpFor: async () => {
      enter();
      await gate;
      return env.http;
    },
  });
  return { handles, entered, release };
}

describe('openLocalForAppend / openLocalForRead on their own', () => {
  it('refuse a link to /etc/passwd inside an exchange dir, for both directions, and leave it alone', async () => {
    const link = join(exchange, 'passwd-link');
    await symlink('/etc/passwd', link);
    const before = await passwd();
    await expect(openLocalForAppend(link, { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_error',
      params: { reason: 'it is a symbolic link, and links are not followed' },
    });
    await expect(openLocalForRead(link, { allowedDirs })).rejects.toMatchObject({ code: 'local_file_error' });
    // Without confinement (the CLI in this process) a link is not followed either.
    await expect(openLocalForAppend(link)).rejects.toMatchObject({ code: 'local_file_error' });
    expect((await passwd()).equals(before)).toBe(true);
    expect((await stat('/etc/passwd')).size).toBe(before.length);
  });

  it('refuse a directory link inside the exchange dir that leads outside', async () => {
    await writeFile(join(outside, 'secret'), 'secret');
    await symlink(outside, join(exchange, 'dir-out'));
    const through = join(exchange, 'dir-out', 'secret');
    await expect(openLocalForAppend(through, { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_forbidden',
    });
    await expect(openLocalForRead(through, { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_forbidden',
    });
    await expect(openLocalForRead(join(exchange, 'dir-out', 'new'), { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_forbidden',
    });
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('secret');
    await expect(stat(join(outside, 'new'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a read target that is an existing link (to a file inside, or dangling to outside) is never followed', async () => {
    const inner = join(exchange, 'inner-file');
    await writeFile(inner, 'keep me');
    await symlink(inner, join(exchange, 'target-link'));
    await expect(openLocalForRead(join(exchange, 'target-link'), { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_error',
    });
    expect(await readFile(inner, 'utf8')).toBe('keep me');
    await symlink(join(outside, 'created-through-link'), join(exchange, 'dangling'));
    await expect(openLocalForRead(join(exchange, 'dangling'), { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_error',
    });
    await expect(stat(join(outside, 'created-through-link'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('creates a new target 0600, and truncates an existing one to 0600 through the descriptor', async () => {
    const fresh = await openLocalForRead(join(exchange, 'fresh'), { allowedDirs });
    await fresh.close();
    expect((await stat(join(exchange, 'fresh'))).mode & 0o777).toBe(0o600);
    const old = join(exchange, 'old');
    await writeFile(old, 'old content', { mode: 0o644 });
    const handle = await openLocalForRead(old, { allowedDirs });
    await handle.close();
    const info = await stat(old);
    expect([info.size, info.mode & 0o777]).toEqual([0, 0o600]);
  });

  it('refuse FIFOs, sockets and directories at once, without blocking', async () => {
    const fifo = mkfifo(join(exchange, 'fifo'));
    const socketPath = join(exchange, 'socket');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      for (const path of [fifo, socketPath]) {
        await expect(openLocalForAppend(path, { allowedDirs })).rejects.toMatchObject({
          code: 'local_file_error',
          params: { reason: 'it is not a regular file' },
        });
        await expect(openLocalForRead(path, { allowedDirs })).rejects.toMatchObject({
          code: 'local_file_error',
        });
      }
      await expect(openLocalForAppend(`${exchange}/`, { allowedDirs })).rejects.toMatchObject({
        code: 'local_file_error',
        params: { reason: 'it is a directory' },
      });
      await mkdir(join(exchange, 'a-dir'));
      await expect(openLocalForAppend(join(exchange, 'a-dir'), { allowedDirs })).rejects.toMatchObject({
        code: 'local_file_error',
        params: { reason: 'it is a directory' },
      });
      await expect(openLocalForRead(join(exchange, 'a-dir'), { allowedDirs })).rejects.toMatchObject({
        code: 'local_file_error',
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('links swapped in after the exchange-directory check', () => {
  it('an append whose file became a link to /etc/passwd after the check is refused; nothing of it is uploaded', async () => {
    const piece = join(exchange, 'swap-append');
    await writeFile(piece, bytesOf(1000, 1));
    const fd = await openWrite(env, 'swap-append.bin');
    // What the service does first, on the path ...
    const checked = await confineLocalFile(piece, allowedDirs);
    // ... then the path is replaced by a link before the engine opens it.
    await rm(piece);
    await symlink('/etc/passwd', piece);
    await expect(env.handles.appendFile(fd, checked, { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_error',
    });
    const good = bytesOf(3000, 2);
    await writeFile(join(exchange, 'good-piece'), good);
    expect(await env.handles.appendFile(fd, join(exchange, 'good-piece'), { allowedDirs })).toBe(good.length);
    expect(await env.handles.closeWrite(fd)).toMatchObject({ size: good.length, md5: md5(good) });
  });

  it('a second append waiting on the fd lock opens what the path is then, and refuses the link', async () => {
    const { handles, entered, release } = gatedHandles();
    const first = bytesOf(600 * KIB, 3);
    await writeFile(join(exchange, 'lock-first'), first);
    const second = join(exchange, 'lock-second');
    await writeFile(second, bytesOf(10, 4));
    const fd = await openWrite(env, 'lock-race.bin', handles);
    const checked = await confineLocalFile(second, allowedDirs);

    let firstDone = false;
    const one = handles.appendFile(fd, join(exchange, 'lock-first'), { allowedDirs }).finally(() => {
      firstDone = true;
    });
    await entered; // the first call holds the lock
    const two = handles.appendFile(fd, checked, { allowedDirs }).catch((error: unknown) => error);
    // The window: the check passed, the second call waits on the lock.
    await rm(second);
    await symlink('/etc/passwd', second);
    expect(firstDone).toBe(false);
    release();
    expect(await one).toBe(first.length);
    expect(await two).toMatchObject({ code: 'local_file_error' });
    // The refused piece was not appended: the handle takes it again (a regular file now), and
    // only then may it close (a close right after the refusal would abort: upload_incomplete).
    const again = bytesOf(10, 4);
    await rm(second);
    await writeFile(second, again);
    expect(await handles.appendFile(fd, second, { allowedDirs })).toBe(again.length);
    const result = await handles.closeWrite(fd);
    expect(result).toMatchObject({
      size: first.length + again.length,
      md5: md5(Buffer.concat([first, again])),
    });
  });

  it('a read whose target became a link to a file outside after the check leaves that file alone', async () => {
    const content = bytesOf(200 * KIB, 5);
    await upload(env, 'swap-read.bin', [content]);
    const fileId = itemNamed(env, 'swap-read.bin').id;
    const victim = join(outside, 'victim');
    await writeFile(victim, 'precious');
    const { handles, entered, release } = gatedHandles();
    const fd = await handles.openRead({
      object: env.object,
      path: '/swap-read.bin',
      fileId,
      size: content.length,
      offset: 0,
    });
    const target = join(exchange, 'restore-target');
    await writeFile(target, '');
    const checked = await confineLocalFile(target, allowedDirs);

    const one = handles.readFile(fd, join(exchange, 'restore-first'), 1000, { allowedDirs });
    await entered;
    const two = handles.readFile(fd, checked, 1000, { allowedDirs }).catch((error: unknown) => error);
    await rm(target);
    await symlink(victim, target);
    release();
    expect(await one).toBe(1000);
    expect(await two).toMatchObject({ code: 'local_file_error' });
    expect(await readFile(victim, 'utf8')).toBe('precious');

    // Its directory swapped for a link to outside: refused as outside, nothing created there.
    const sub = join(exchange, 'restore-sub');
    await mkdir(sub);
    const inSub = await confineLocalFile(join(sub, 'piece'), allowedDirs);
    await rename(sub, join(exchange, 'restore-sub-moved'));
    await symlink(outside, sub);
    await expect(handles.readFile(fd, inSub, 1000, { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_forbidden',
    });
    await expect(stat(join(outside, 'piece'))).rejects.toMatchObject({ code: 'ENOENT' });
    // The refused reads moved nothing: the next read continues at 1000.
    expect(await handles.readFile(fd, join(exchange, 'restore-next'), 1000, { allowedDirs })).toBe(1000);
    expect((await readFile(join(exchange, 'restore-next'))).equals(content.subarray(1000, 2000))).toBe(true);
    await handles.closeRead(fd);
  });
});

describe('FIFOs', () => {
  it('four FIFOs appended at once are refused at once and do not stall a normal append meanwhile', async () => {
    const fds = await Promise.all([0, 1, 2, 3, 4].map((i) => openWrite(env, `fifo-${i}.bin`)));
    const paths = [0, 1, 2, 3].map((i) => mkfifo(join(exchange, `stall-${i}`)));
    const normal = bytesOf(300 * KIB, 6);
    await writeFile(join(exchange, 'normal'), normal);
    const refused = paths.map((path, i) =>
      env.handles.appendFile(fds[i]!, path, { allowedDirs }).catch((error: unknown) => error),
    );
    // Started after the four: with blocking opens it would wait for a free thread forever.
    const appended = await env.handles.appendFile(fds[4]!, join(exchange, 'normal'), { allowedDirs });
    expect(appended).toBe(normal.length);
    for (const error of await Promise.all(refused))
      expect(error).toMatchObject({
        code: 'local_file_error',
        params: { reason: 'it is not a regular file' },
      });
    expect(await env.handles.closeWrite(fds[4]!)).toMatchObject({ size: normal.length, md5: md5(normal) });
    // A restore into a FIFO is refused the same way, with no reader as with one.
    const fileId = itemNamed(env, 'fifo-4.bin').id;
    const rfd = await env.handles.openRead({
      object: env.object,
      path: '/fifo-4.bin',
      fileId,
      size: normal.length,
      offset: 0,
    });
    await expect(env.handles.readFile(rfd, paths[0]!, 10, { allowedDirs })).rejects.toMatchObject({
      code: 'local_file_error',
    });
    await env.handles.closeRead(rfd);
  });
});
