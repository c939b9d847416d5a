/**
 * `put` and `get` as Plesk drives the hook: a write is openFileWrite + appendFile of local
 * pieces + closeFile; a read is openFileRead + readFile of sized pieces + closeFile. Pieces are
 * temp files in the system temp dir (an exchange dir, so the service accepts them); the next
 * piece is cut while the current one is being appended, like Plesk archiving ahead.
 *
 * Progress is told as the engine moves bytes (each chunk, in this process) and at least at
 * each piece's end (through the service, whose calls answer when a piece is done).
 * An aborted `signal` (Ctrl-C) stops at the end of the piece in flight: a put's handle is
 * cancelled (nothing stored, its spool removed), a get's handle closed and its partial local
 * file removed; then Interrupted is thrown.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chown, mkdtemp, open, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ObjectRef } from '../core/object-ref.js';
import type { WriteResult } from '../core/types.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Backend } from './backend.js';
import { Interrupted, localFileError } from './cli-errors.js';

/** The piece Plesk hands to appendFile and asks of readFile: 100 MiB. */
export const PLESK_PIECE = 100 * 1024 * 1024;

export interface TransferResult {
  bytes: number;
  elapsedMs: number;
  sha256: string;
}

/**
 * A private temp dir for pieces. When a root CLI talks to a service that runs as the data
 * dir's owner, that owner must be able to read (put) and create (get) the pieces.
 */
async function pieceDir(
  backend: Backend,
  dataDir: string,
): Promise<{ dir: string; owner?: { uid: number; gid: number } }> {
  const dir = await mkdtemp(join(tmpdir(), 'gdrive-backup-'));
  if (backend.mode !== 'service' || process.getuid?.() !== 0) return { dir };
  const owner = await stat(dataDir).catch(() => undefined);
  if (!owner || owner.uid === 0) return { dir };
  await chown(dir, owner.uid, owner.gid);
  return { dir, owner: { uid: owner.uid, gid: owner.gid } };
}

export async function putFile(options: {
  backend: Backend;
  object: ObjectRef;
  dataDir: string;
  local: string;
  remote: string;
  pieceSize: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}): Promise<TransferResult & { md5: string }> {
  const { backend, object, local, remote, pieceSize, signal } = options;
  const info = await stat(local).catch((error: unknown) => {
    throw localFileError(local, error);
  });
  if (!info.isFile())
    throw new GdriveBackupError('local_file_error', { path: local, reason: 'not a regular file' });
  const total = info.size;
  const started = Date.now();
  options.onProgress?.(0, total);
  const hash = createHash('sha256');
  const { dir, owner } = await pieceDir(backend, options.dataDir);
  const pieces = Math.ceil(total / pieceSize);
  let pending: Promise<string> | undefined;
  try {
    const cut = async (index: number): Promise<string> => {
      const path = join(dir, `piece-${index}`);
      const start = index * pieceSize;
      await pipeline(
        createReadStream(local, { start, end: Math.min(total, start + pieceSize) - 1 }),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(path, { mode: 0o600 }),
      );
      if (owner) await chown(path, owner.uid, owner.gid);
      return path;
    };
    const fd = await backend.openWrite(object, remote);
    let sent = 0;
    pending = pieces > 0 ? cut(0) : undefined;
    const sendPieces = async (): Promise<WriteResult> => {
      for (let index = 0; index < pieces; index++) {
        const path = await pending!;
        pending = index + 1 < pieces ? cut(index + 1) : undefined;
        const before = sent;
        sent += await backend.append(fd, path, {
          onProgress: (bytes) => options.onProgress?.(before + bytes, total),
        });
        await unlink(path);
        options.onProgress?.(sent, total);
        if (signal?.aborted) {
          await backend.cancelWrite(fd);
          throw new Interrupted(
            `interrupted: the upload of "${remote}" was cancelled after ${sent} of ${total} bytes; nothing was stored on Google Drive.`,
          );
        }
      }
      return backend.closeWrite(fd);
    };
    const result = await sendPieces().catch(async (error: unknown) => {
      // Nobody carries on with a put's handle once the command has ended.
      if (!(error instanceof Interrupted)) await backend.cancelWrite(fd).catch(() => {});
      throw error;
    });
    const sha256 = hash.digest('hex');
    if (result.size !== total || result.sha256 !== sha256)
      throw new GdriveBackupError('verification_failed', {
        path: remote,
        detail: `Drive has ${result.size} bytes with sha256 ${result.sha256}, the local file ${total} bytes with sha256 ${sha256}`,
      });
    return { bytes: result.size, elapsedMs: Date.now() - started, sha256, md5: result.md5 };
  } finally {
    await pending?.catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

export async function getFile(options: {
  backend: Backend;
  object: ObjectRef;
  dataDir: string;
  remote: string;
  local: string;
  offset: number;
  size?: number;
  pieceSize: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}): Promise<TransferResult & { verifiedMd5: boolean }> {
  const { backend, object, remote, local, offset, pieceSize, signal } = options;
  const entry = await backend.stat(object, remote);
  if (entry === null) throw new GdriveBackupError('not_found', { path: remote });
  if (entry.isDir) throw new GdriveBackupError('is_a_directory', { path: remote });
  const end = options.size === undefined ? entry.size : Math.min(entry.size, offset + options.size);
  const total = Math.max(0, end - offset);
  const started = Date.now();
  options.onProgress?.(0, total);
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  const { dir } = await pieceDir(backend, options.dataDir);
  const out = await open(local, 'w', 0o600).catch((error: unknown) => {
    throw localFileError(local, error);
  });
  let interrupted = false;
  try {
    const fd = await backend.openRead(object, remote, offset);
    let received = 0;
    try {
      for (let index = 0; received < total; index++) {
        const path = join(dir, `piece-${index}`);
        const before = received;
        const got = await backend.read(fd, path, Math.min(pieceSize, total - received), {
          onProgress: (bytes) => options.onProgress?.(before + bytes, total),
        });
        if (got === 0) break;
        for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
          sha256.update(chunk);
          md5.update(chunk);
          await out.write(chunk).catch((error: unknown) => {
            throw localFileError(local, error);
          });
        }
        await unlink(path);
        received += got;
        options.onProgress?.(received, total);
        if (signal?.aborted && received < total) {
          interrupted = true;
          throw new Interrupted(
            `interrupted: the download of "${remote}" was cancelled after ${received} of ${total} bytes; the incomplete "${local}" was removed.`,
          );
        }
      }
    } finally {
      await backend.closeRead(fd);
    }
    if (received !== total)
      throw new GdriveBackupError('verification_failed', {
        path: remote,
        detail: `${received} bytes came back instead of ${total}`,
      });
    const wholeFile = offset === 0 && total === entry.size && entry.hash !== undefined;
    const md5Hex = md5.digest('hex');
    if (wholeFile && md5Hex !== entry.hash)
      throw new GdriveBackupError('verification_failed', {
        path: remote,
        detail: `md5 ${md5Hex} of the bytes read differs from Drive's ${entry.hash}`,
      });
    return {
      bytes: received,
      elapsedMs: Date.now() - started,
      sha256: sha256.digest('hex'),
      verifiedMd5: wholeFile,
    };
  } finally {
    await out.close();
    if (interrupted) await rm(local, { force: true });
    await rm(dir, { recursive: true, force: true });
  }
}
