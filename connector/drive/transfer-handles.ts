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
 * The data path of a backup byte: transfer-handles.appendFile -> resumable-upload.appendToUpload
 * (reads the local file into the chunk buffer, hashes it, PUTs full chunks) -> spool.writeTail
 * (the remainder) ... closeWrite -> resumable-upload.finishUpload (last chunk, verification).
 */
import { type Hash, randomBytes } from 'node:crypto';
import type { Keyv } from 'keyv';
import type { Config } from '../config/config.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import { formatObjectRef, type ObjectRef } from '../transport/object-ref.js';
import type { HandleOperations, WriteResult } from '../transport/types.js';
import type { DriveHttp } from './drive-http.js';
import { KeyedMutex } from './folders.js';
import { downloadSlice, openForWriting } from './ranged-download.js';
import {
  appendToUpload,
  failureContext,
  finishUpload,
  newUploadRecord,
  type UploadEnv,
  type UploadRecord,
} from './resumable-upload.js';
import type { Pacer } from './retry.js';
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
}

export interface OpenWriteInput {
  object: ObjectRef;
  path: string;
  parentId: string;
  name: string;
  driveId?: string;
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
/** Chunk buffers kept for reuse between calls (each is chunkSize bytes). */
const SPARE_BUFFERS = 1;

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
  private indexQueue: Promise<void> = Promise.resolve();
  private readonly spare: Buffer[] = [];
  private readonly ready: Promise<void>;

  constructor(private readonly deps: TransferDeps) {
    this.ready = this.purgeStale(SESSION_LIFETIME_MS).then(
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
    await this.register(fd, newUploadRecord(input, hash.save(), Date.now()));
    this.liveSha256.set(fd, { hash: UploadHash.freshSha256(), appended: 0 });
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

  async appendFile(fd: string, localFile: string): Promise<number> {
    return this.locks.run(fd, async () => {
      const record = await this.load(fd, 'write');
      try {
        const live = this.liveSha256For(fd, record);
        const outcome = await this.withUploadEnv(fd, record, (env) =>
          appendToUpload(env, record, localFile, live),
        );
        if (outcome.sha256 === undefined) this.liveSha256.delete(fd);
        else this.liveSha256.set(fd, { hash: outcome.sha256, appended: record.appended + outcome.bytes });
        return outcome.bytes;
      } catch (error) {
        // The session is gone on Drive: nothing can finish this handle any more.
        if (error instanceof GdriveBackupError && error.code === 'upload_session_expired')
          await this.forget(fd);
        throw error;
      }
    });
  }

  async closeWrite(fd: string): Promise<WriteResult> {
    return this.locks.run(fd, async () => {
      const record = await this.load(fd, 'write');
      try {
        const live = this.liveSha256For(fd, record);
        const result = await this.withUploadEnv(fd, record, (env) => finishUpload(env, record, live));
        await this.forget(fd);
        return result;
      } catch (error) {
        // These leave nothing to resume; other failures keep the handle for another closeWrite.
        if (
          error instanceof GdriveBackupError &&
          (error.code === 'upload_session_expired' || error.code === 'verification_failed')
        )
          await this.forget(fd);
        throw error;
      }
    });
  }

  async readFile(fd: string, localFile: string, size: number | null): Promise<number> {
    if (size !== null && (!Number.isSafeInteger(size) || size < 0))
      throw new GdriveBackupError('bad_request', {
        detail: 'the size must be a whole number of bytes, 0 or more, or null',
      });
    return this.locks.run(fd, async () => {
      const record = await this.load(fd, 'read');
      const start = Math.min(record.position, record.size);
      const end = size === null ? record.size : Math.min(record.size, start + size);
      // A read of the whole file from byte 0 is checked against Drive's md5, piece by piece.
      const hash = record.hashState === undefined ? undefined : await DownloadHash.create(record.hashState);
      if (end > start) {
        const http = await this.deps.httpFor(record.object);
        await downloadSlice(
          {
            http,
            pacer: this.deps.pacer,
            apiRoot: this.deps.config.apiRoot,
            streams: this.deps.config.downloadStreams,
            rangeSize: this.deps.config.downloadRangeSize,
            log: this.deps.log,
          },
          { fileId: record.fileId, start, end, localFile, context: failureContext(record) },
          hash === undefined ? undefined : (bytes) => hash.update(bytes),
        );
      } else {
        // Nothing to read: the local file is still created (or emptied), as for any read.
        await (await openForWriting(localFile)).close();
      }
      const next: ReadRecord = { ...record, position: end };
      if (hash !== undefined && end > start) {
        if (end === record.size) {
          const actual = hash.digest();
          if (actual !== record.md5) {
            this.deps.log.warn('transfers: downloaded data does not match md5', { fd });
            throw new GdriveBackupError('read_verification_failed', {
              path: record.path,
              detail: `md5 ${actual} instead of ${record.md5}`,
            });
          }
          delete next.hashState;
        } else {
          next.hashState = hash.save();
        }
      }
      await this.deps.state.set(RECORD_PREFIX + fd, next);
      this.deps.log.debug('transfers: read', { fd, bytes: end - start, position: end });
      return end - start;
    });
  }

  /**
   * Drops a write handle without finishing it (a put its user interrupted): its record and
   * spool go, and the unfinished resumable session never becomes a file on Drive.
   */
  async cancelWrite(fd: string): Promise<void> {
    await this.locks.run(fd, async () => {
      await this.load(fd, 'write');
      await this.forget(fd);
    });
  }

  async closeRead(fd: string): Promise<void> {
    await this.locks.run(fd, async () => {
      await this.load(fd, 'read');
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
    const buffer = this.takeBuffer();
    try {
      return await fn({
        http,
        pacer: this.deps.pacer,
        apiRoot: this.deps.config.apiRoot,
        chunkSize: this.deps.config.chunkSize,
        maxAttempts: this.deps.config.maxAttempts,
        dataDir: this.deps.config.dataDir,
        fd,
        log: this.deps.log,
        buffer,
        save: async (next) => {
          await this.deps.state.set(RECORD_PREFIX + fd, next);
        },
      });
    } finally {
      this.releaseBuffer(buffer);
    }
  }

  private takeBuffer(): Buffer {
    const size = this.deps.config.chunkSize;
    const reused = this.spare.pop();
    if (reused !== undefined && reused.length === size) return reused;
    // Outside Node's small-buffer pool: one chunk is large and lives as long as the call.
    return Buffer.allocUnsafeSlow(size);
  }

  private releaseBuffer(buffer: Buffer): void {
    if (this.spare.length < SPARE_BUFFERS) this.spare.push(buffer);
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

/** An fd as it may appear in a message: anything odd is cut short. */
function shown(fd: string): string {
  return FD_PATTERN.test(fd) ? fd : fd.slice(0, 40).replace(/[^\w-]/g, '?');
}
