/**
 * The handle engine: Plesk's openFileWrite/appendFile/closeFile and openFileRead/readFile/
 * closeFile, over Drive's resumable upload and ranged download.
 *
 * A handle (fd) names a small typed record in the state store, so a restarted connector carries
 * on with the same fd: a write record holds the session URI, Drive's offset, the kept tail's
 * length (its bytes wait in `<dataDir>/spool/<fd>/`) and the running md5 state; a read record
 * holds the position and the running md5 of a whole-file read. The sha256 of an upload lives in
 * this instance only (`liveSha256`, see stream-hash.ts for why): replaced only when an appendFile
 * succeeded, and trusted only while the record says 'live' and covers the same bytes, so a
 * failed, repeated or cut-off call never leaves it with bytes seen twice or missed; after a
 * restart the handle goes on without it. Calls on one fd run one at a time; different fds run in
 * parallel. One process owns a data directory (data-dir lock), so in-process locking is enough.
 *
 * A write handle's record is trusted as Drive's state only while this process's own last
 * successful call left it (`synced`); otherwise (a restart, a failed call) the next call asks
 * Drive where it is first. A failed appendFile marks the record: a closeWrite without a
 * successful appendFile since then aborts the upload (a short file must never look complete),
 * and so do final failures; then the handle and its tail are removed at once.
 *
 * Local files are opened with local-files.ts (the opened file is checked, not the path; with
 * the caller's allowed directories). A read handle may hold one piece read ahead in memory state
 * and in `<dataDir>/read-ahead/` (read-ahead.ts), never in its record.
 *
 * The data path of a backup byte: transfer-handles.appendFile -> resumable-upload.appendToUpload
 * (streams the aligned part of the piece from the local file into one PUT, hashing each byte
 * once) -> spool.writeTail (the unaligned remainder) ... closeWrite ->
 * resumable-upload.finishUpload (last PUT, verification, replaced files deleted).
 */
import { type Hash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Keyv } from 'keyv';
import type { Config } from '../config/config.js';
import { formatObjectRef, type ObjectRef } from '../core/object-ref.js';
import type { AppendOptions, HandleOperations, ReadOptions, WriteResult } from '../core/types.js';
import { GdriveBackupError, localFileError } from '../errors/errors.js';
import type { Log } from '../log.js';
import type { DriveHttp } from './drive-http.js';
import { KeyedMutex, type RecentItems } from './folders.js';
import { openLocalForRead } from './local-files.js';
import { type DownloadEnv, downloadSlice } from './ranged-download.js';
import { READ_AHEAD_MIN, ReadAheads } from './read-ahead.js';
import {
  abortUpload,
  appendToUpload,
  type CallOptions,
  failureContext,
  finishUpload,
  newUploadRecord,
  type OpenWriteInput,
  type UploadEnv,
  type UploadRecord,
} from './resumable-upload.js';
import { localFailure, type Pacer } from './retry.js';
import { listSpools, removeSpool } from './spool.js';
import { DownloadHash, UploadHash } from './stream-hash.js';

export interface TransferDeps {
  /** chunkSize, downloadStreams, downloadRangeSize, dataDir, apiRoot, maxAttempts. */
  config: Config;
  /** Persisted handle records. */
  state: Keyv;
  log: Log;
  /** Authenticated; throws not_connected / reconnect_required. */
  httpFor(object: ObjectRef): Promise<DriveHttp>;
  /** The one retry policy (retry.ts). */
  pacer: Pacer;
  /** Told of every finished upload, so look-ups find it before Drive's lists do (folders.ts). */
  recent?: RecentItems;
}

export interface OpenReadInput {
  object: ObjectRef;
  path: string;
  fileId: string;
  size: number;
  md5?: string;
  offset: number;
  driveId?: string;
}

/** The persisted state of one read handle. */
export interface ReadRecord {
  kind: 'read';
  object: ObjectRef;
  path: string;
  fileId: string;
  size: number;
  md5?: string;
  driveId?: string;
  /** Next byte readFile returns. */
  position: number;
  /** md5 state over [0, position) while the handle reads the whole file from byte 0; absent otherwise. */
  hashState?: string;
  createdAt: number;
}

export type HandleRecord = UploadRecord | ReadRecord;

/** Google keeps a resumable session about a week; a handle older than that cannot finish. */
export const SESSION_LIFETIME_MS = 7 * 24 * 3600 * 1000;

const RECORD_PREFIX = 'transfer:';
const INDEX_KEY = 'transfer-index';
const FD_PATTERN = /^[rw]-[0-9a-f]{32}$/;
/** Failures after which nothing can finish a write handle: it is removed at once. */
const FINAL_WRITE_FAILURES = new Set(['upload_session_expired', 'verification_failed', 'drive_full']);

/** fd -> createdAt of every open handle. */
type HandleIndex = Record<string, number>;

/** The in-memory sha256 of a write handle and how many appended bytes it has seen. */
interface LiveSha256 {
  hash: Hash;
  appended: number;
}

export class TransferHandles implements HandleOperations {
  /** Calls on one fd run one after another. */
  private readonly locks = new KeyedMutex();
  private readonly liveSha256 = new Map<string, LiveSha256>();
  /** Write handles whose stored record was left by this process's own last successful call. */
  private readonly synced = new Set<string>();
  private indexQueue: Promise<void> = Promise.resolve();
  private readonly readAheads: ReadAheads;
  private readonly ready: Promise<void>;

  constructor(private readonly deps: TransferDeps) {
    this.readAheads = new ReadAheads(deps.config.dataDir, deps.log);
    const leftovers = this.readAheads.clearLeftovers().catch((error: unknown) =>
      deps.log.warn('transfers: could not remove read-ahead pieces of an earlier run', {
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    this.ready = leftovers
      .then(() => this.purgeStale(SESSION_LIFETIME_MS))
      .then(
        (purged) => {
          if (purged > 0) deps.log.info('transfers: removed abandoned handles', { count: purged });
        },
        (error: unknown) =>
          deps.log.warn('transfers: could not remove abandoned handles', {
            error: error instanceof Error ? error.message : String(error),
          }),
      );
  }

  async openWrite(input: OpenWriteInput): Promise<string> {
    await this.ready;
    const fd = `w-${randomBytes(16).toString('hex')}`;
    const hash = await UploadHash.create();
    await this.register(fd, newUploadRecord(input, hash.save(), this.deps.config.chunkSize, Date.now()));
    this.liveSha256.set(fd, { hash: UploadHash.freshSha256(), appended: 0 });
    this.synced.add(fd);
    return fd;
  }

  async openRead(input: OpenReadInput): Promise<string> {
    await this.ready;
    assertOffset(input.offset);
    const fd = `r-${randomBytes(16).toString('hex')}`;
    const record: ReadRecord = {
      kind: 'read',
      object: input.object,
      path: input.path,
      fileId: input.fileId,
      size: input.size,
      position: input.offset,
      createdAt: Date.now(),
    };
    if (input.md5 !== undefined) record.md5 = input.md5.toLowerCase();
    if (input.driveId !== undefined) record.driveId = input.driveId;
    if (input.offset === 0 && input.md5 !== undefined)
      record.hashState = (await DownloadHash.create()).save();
    await this.register(fd, record);
    return fd;
  }

  async appendFile(fd: string, localFile: string, options: AppendOptions = {}): Promise<number> {
    return this.locks.run(fd, async () => {
      const record = await this.load(fd, 'write');
      const call = this.callOptions(fd, record);
      if (options.onProgress !== undefined) call.onProgress = options.onProgress;
      this.synced.delete(fd);
      try {
        const outcome = await this.withUploadEnv(fd, record, (env) =>
          appendToUpload({ ...env, localFiles: options }, record, localFile, call),
        );
        if (outcome.sha256 === undefined) this.liveSha256.delete(fd);
        else this.liveSha256.set(fd, { hash: outcome.sha256, appended: record.appended + outcome.bytes });
        this.synced.add(fd);
        return outcome.bytes;
      } catch (error) {
        // The session is gone on Drive: nothing can finish this handle any more.
        if (isCode(error, 'upload_session_expired')) await this.forget(fd);
        else await this.markAppendFailed(fd);
        // A local errno (reading the local file, or the spool) is the admin's to fix, not Google's.
        throw localFailure(error, localFile) ?? error;
      }
    });
  }

  async closeWrite(fd: string): Promise<WriteResult> {
    return this.locks.run(fd, async () => {
      const record = await this.load(fd, 'write');
      if (record.appendFailed) return this.abortWrite(fd, record);
      const call = this.callOptions(fd, record);
      this.synced.delete(fd);
      try {
        const { fileId, ...result } = await this.withUploadEnv(fd, record, (env) =>
          finishUpload(env, record, call),
        );
        if (fileId) await this.deps.recent?.remember(record.parentId, record.name, fileId);
        await this.forget(fd);
        return result;
      } catch (error) {
        // Final failures leave nothing to resume; others keep the handle for another closeWrite.
        if (error instanceof GdriveBackupError && FINAL_WRITE_FAILURES.has(error.code)) {
          if (error.code === 'drive_full')
            await this.withUploadEnv(fd, record, (env) => abortUpload(env, record)).catch(() => undefined);
          await this.forget(fd);
        }
        throw error;
      }
    });
  }

  /**
   * Writes the next `size` bytes (all that is left when null) into `localFile`, opened with
   * local-files.ts (inside `options.allowedDirs` when given). A piece read ahead for exactly this
   * range is copied instead of downloaded; after a sized read, the next piece of that size is
   * read ahead (read-ahead.ts). `onProgress` hears the bytes of this call written so far.
   */
  async readFile(
    fd: string,
    localFile: string,
    size: number | null,
    options: ReadOptions = {},
  ): Promise<number> {
    if (size !== null && (!Number.isSafeInteger(size) || size < 0))
      throw new GdriveBackupError('bad_request', {
        detail: 'the size must be a whole number of bytes, 0 or more, or null',
      });
    return this.locks.run(fd, async () => {
      const record = await this.load(fd, 'read');
      const start = Math.min(record.position, record.size);
      const end = size === null ? record.size : Math.min(record.size, start + size);
      const next: ReadRecord = { ...record, position: end };
      let actualMd5: string | undefined;
      // Once every byte of this read is downloaded (and hashed), before it is copied into the
      // target: the hash state is taken, then the next piece starts, so its download overlaps
      // the copy and the caller's work on this piece.
      const downloaded = (hash: DownloadHash | undefined) => {
        if (hash !== undefined && end > start) {
          if (end === record.size) actualMd5 = hash.digest();
          else next.hashState = hash.save();
        }
        if (size !== null && end - start === size && end < record.size) this.readAhead(fd, next, size, hash);
      };
      try {
        const target = await openLocalForRead(localFile, options);
        try {
          await this.readInto(fd, record, start, end, target, localFile, options.onProgress, downloaded);
        } finally {
          await target.close();
        }
        if (actualMd5 !== undefined) {
          if (actualMd5 !== record.md5) {
            this.deps.log.warn('transfers: downloaded data does not match md5', { fd });
            throw new GdriveBackupError('read_verification_failed', {
              path: record.path,
              detail: `md5 ${actualMd5} instead of ${record.md5}`,
            });
          }
          delete next.hashState;
        }
        await this.deps.state.set(RECORD_PREFIX + fd, next);
      } catch (error) {
        // A failed read leaves nothing behind: no piece read ahead on disk.
        await this.readAheads.discard(fd);
        // A local errno (writing the local file) is the admin's to fix, not Google's.
        throw localFailure(error, localFile) ?? error;
      }
      this.deps.log.debug('transfers: read', { fd, bytes: end - start, position: end });
      return end - start;
    });
  }

  /**
   * Drops a write handle without finishing it (a put its user interrupted): the session is
   * cancelled on Drive (best effort, as after a failed append), its record and spool go, and
   * the files it would have replaced stay.
   */
  async cancelWrite(fd: string): Promise<void> {
    await this.locks.run(fd, async () => {
      const record = await this.load(fd, 'write');
      await this.withUploadEnv(fd, record, (env) => abortUpload(env, record)).catch(() => undefined);
      await this.forget(fd);
    });
  }

  /**
   * [start, end) of the record's file into the target. `downloaded` hears, once all of it is
   * downloaded, the md5 advanced over it (when kept), before a piece read ahead is copied.
   */
  private async readInto(
    fd: string,
    record: ReadRecord,
    start: number,
    end: number,
    target: FileHandle,
    localFile: string,
    onProgress: ((bytes: number) => void) | undefined,
    downloaded: (hash: DownloadHash | undefined) => void,
  ): Promise<void> {
    const piece = await this.readAheads.take(fd, start, end, onProgress);
    if (piece !== undefined) {
      downloaded(piece.hash);
      try {
        await piece.copyTo(target);
      } catch (error) {
        throw localFileError(localFile, error);
      }
      onProgress?.(end - start);
      return;
    }
    // A read of the whole file from byte 0 is checked against Drive's md5, piece by piece.
    const hash = record.hashState === undefined ? undefined : await DownloadHash.create(record.hashState);
    if (end > start) {
      let written = 0;
      await downloadSlice(
        await this.downloadEnv(record),
        {
          fileId: record.fileId,
          start,
          end,
          target,
          localFile,
          context: failureContext(record),
          ...(onProgress === undefined
            ? {}
            : {
                onBytes: (bytes: number) => {
                  written += bytes;
                  onProgress(written);
                },
              }),
        },
        hash === undefined ? undefined : (bytes) => hash.update(bytes),
      );
    }
    downloaded(hash);
  }

  /** Starts reading the next `size` bytes ahead (fewer at the end), when the handle reads big pieces. */
  private readAhead(fd: string, record: ReadRecord, size: number, hash: DownloadHash | undefined): void {
    const max = this.deps.config.readAheadMax;
    if (size < READ_AHEAD_MIN || size > max) return;
    const from = record.position;
    this.readAheads.start(fd, () => this.downloadEnv(record), {
      fileId: record.fileId,
      start: from,
      end: Math.min(record.size, from + size),
      context: failureContext(record),
      ...(hash === undefined ? {} : { hash }),
    });
  }

  private async downloadEnv(record: ReadRecord): Promise<DownloadEnv> {
    return {
      http: await this.deps.httpFor(record.object),
      pacer: this.deps.pacer,
      apiRoot: this.deps.config.apiRoot,
      streams: this.deps.config.downloadStreams,
      rangeSize: this.deps.config.downloadRangeSize,
      log: this.deps.log,
    };
  }

  async closeRead(fd: string): Promise<void> {
    await this.locks.run(fd, async () => {
      await this.load(fd, 'read');
      await this.readAheads.discard(fd);
      await this.forget(fd);
    });
  }

  /** The object and path an open fd transfers (for recording its outcome); undefined when unknown. */
  async owner(fd: string): Promise<{ object: ObjectRef; path: string } | undefined> {
    const record = FD_PATTERN.test(fd)
      ? await this.deps.state.get<HandleRecord>(RECORD_PREFIX + fd)
      : undefined;
    return record ? { object: record.object, path: record.path } : undefined;
  }

  async openCount(): Promise<number> {
    await this.ready;
    return Object.keys(await this.readIndex()).length;
  }

  /**
   * Removes handles (records and kept tails) created more than `maxAgeMs` ago, and spool
   * directories no handle owns. Runs at construction with the session lifetime (7 days).
   * Returns the number of handles removed.
   */
  async purgeStale(maxAgeMs: number): Promise<number> {
    const now = Date.now();
    const index = await this.readIndex();
    const stale = Object.entries(index)
      .filter(([, createdAt]) => now - createdAt > maxAgeMs)
      .map(([fd]) => fd);
    for (const fd of stale) await this.forget(fd);
    const known = new Set(Object.keys(await this.readIndex()));
    for (const spool of await listSpools(this.deps.config.dataDir)) {
      if (!known.has(spool.fd) && now - spool.mtimeMs > maxAgeMs)
        await removeSpool(this.deps.config.dataDir, spool.fd);
    }
    return stale.length;
  }

  /** What a call on `record` may trust: the live sha256, and Drive's offset as recorded. */
  private callOptions(fd: string, record: UploadRecord): CallOptions {
    const options: CallOptions = { askFirst: !this.synced.has(fd) };
    const live = this.liveSha256For(fd, record);
    if (live !== undefined) options.liveSha256 = live;
    return options;
  }

  /**
   * A close after a failed append: the file would be short, so the upload is cancelled on
   * Drive, the handle removed, and the caller told that the file was not stored. The files it
   * would have replaced stay.
   */
  private async abortWrite(fd: string, record: UploadRecord): Promise<never> {
    this.deps.log.warn('transfers: closing after a failed append; the upload is cancelled', { fd });
    await this.withUploadEnv(fd, record, (env) => abortUpload(env, record)).catch((error: unknown) =>
      this.deps.log.warn('transfers: could not cancel the upload', {
        fd,
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    await this.forget(fd);
    throw new GdriveBackupError('upload_incomplete', { path: record.path });
  }

  /** Marks the stored record (which may hold a newer Drive offset than the caller's copy). */
  private async markAppendFailed(fd: string): Promise<void> {
    try {
      const current = await this.deps.state.get<UploadRecord>(RECORD_PREFIX + fd);
      if (current?.kind === 'write' && !current.appendFailed)
        await this.deps.state.set(RECORD_PREFIX + fd, { ...current, appendFailed: true });
    } catch (error) {
      this.deps.log.warn('transfers: could not mark a failed append', {
        fd,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /**
   * The in-memory sha256 of exactly the record's appended bytes, or undefined: none after a
   * restart, and none when the record is not the one the hasher was last advanced with.
   */
  private liveSha256For(fd: string, record: UploadRecord): Hash | undefined {
    const live = this.liveSha256.get(fd);
    if (live !== undefined && record.sha256 === 'live' && live.appended === record.appended) return live.hash;
    this.liveSha256.delete(fd);
    return undefined;
  }

  private async withUploadEnv<T>(
    fd: string,
    record: UploadRecord,
    fn: (env: UploadEnv) => Promise<T>,
  ): Promise<T> {
    const http = await this.deps.httpFor(record.object);
    return fn({
      http,
      pacer: this.deps.pacer,
      apiRoot: this.deps.config.apiRoot,
      // The handle goes on as it was begun, whatever the setting is now.
      chunkSize: record.chunkSize ?? this.deps.config.chunkSize,
      maxAttempts: this.deps.config.maxAttempts,
      dataDir: this.deps.config.dataDir,
      fd,
      log: this.deps.log,
      save: async (next) => {
        await this.deps.state.set(RECORD_PREFIX + fd, next);
      },
    });
  }

  /** Persists a new handle's record and lists it in the index. */
  private async register(fd: string, record: HandleRecord): Promise<void> {
    await this.deps.state.set(RECORD_PREFIX + fd, record);
    await this.updateIndex((index) => {
      index[fd] = record.createdAt;
    });
    this.deps.log.debug(`transfers: opened for ${record.kind === 'write' ? 'writing' : 'reading'}`, {
      fd,
      object: formatObjectRef(record.object),
      path: record.path,
    });
  }

  private async load(fd: string, kind: 'write'): Promise<UploadRecord>;
  private async load(fd: string, kind: 'read'): Promise<ReadRecord>;
  private async load(fd: string, kind: 'write' | 'read'): Promise<HandleRecord> {
    await this.ready;
    const record = FD_PATTERN.test(fd)
      ? await this.deps.state.get<HandleRecord>(RECORD_PREFIX + fd)
      : undefined;
    if (record === undefined || record === null)
      throw new GdriveBackupError('unknown_handle', { fd: shown(fd) });
    if (record.kind !== kind)
      throw new GdriveBackupError('wrong_handle_kind', {
        fd: shown(fd),
        kind: record.kind === 'write' ? 'writing' : 'reading',
      });
    return record;
  }

  private async forget(fd: string): Promise<void> {
    this.liveSha256.delete(fd);
    this.synced.delete(fd);
    await this.deps.state.delete(RECORD_PREFIX + fd);
    await this.updateIndex((index) => {
      delete index[fd];
    });
    if (fd.startsWith('w-')) await removeSpool(this.deps.config.dataDir, fd);
  }

  private async readIndex(): Promise<HandleIndex> {
    return (await this.deps.state.get<HandleIndex>(INDEX_KEY)) ?? {};
  }

  /** Read-modify-write of the index, one at a time. */
  private async updateIndex(change: (index: HandleIndex) => void): Promise<void> {
    const run = this.indexQueue.then(async () => {
      const index = { ...(await this.readIndex()) };
      change(index);
      await this.deps.state.set(INDEX_KEY, index);
    });
    this.indexQueue = run.catch(() => undefined);
    await run;
  }
}

/** A read offset is a whole number of bytes, 0 or more (bad_request otherwise). */
export function assertOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new GdriveBackupError('bad_request', {
      detail: 'the offset must be a whole number of bytes, 0 or more',
    });
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof GdriveBackupError && error.code === code;
}

/** An fd as it may appear in a message: anything odd is cut short. */
function shown(fd: string): string {
  return FD_PATTERN.test(fd) ? fd : fd.slice(0, 40).replace(/[^\w-]/g, '?');
}
