/**
 * Drive's resumable upload, fed piece by piece (appendFile) and finished by closeWrite.
 *
 * Protocol: shared/reference/google-drive-facts.md, "Resumable upload". One call reads top to
 * bottom as its states: open (a record, no request) -> asked (where Drive is, when this process
 * cannot know) -> sending (the aligned part of the piece, streamed from the local file) -> tail
 * kept (on disk, until the next call) -> finalising (the last PUT names the total) -> verified
 * against Drive's size/md5/sha256 (size/md5 only after a restart: stream-hash.ts).
 *
 * Why it looks the way it does:
 *  - Every PUT but the last must be a multiple of 256 KiB. Each appendFile sends the bytes of
 *    the kept tail and of its piece up to the last 256 KiB boundary before their end, in ONE PUT
 *    streamed from the local file (the chunk-size setting only caps a PUT, for proxies that
 *    limit request sizes; a bigger piece goes in several). At least one byte stays behind, so
 *    closeWrite's PUT carries data and the total: a file of p pieces costs p + 1 PUTs plus the
 *    session start, and memory is the tail (at most 256 KiB) plus the read blocks in flight,
 *    whatever the chunk size.
 *  - A 308 says how much Drive PERSISTED, which can be less than we sent: we continue from
 *    there, re-reading the local file (or the in-memory tail). We never assume sent == persisted.
 *  - We never send a range that overlaps what Drive holds. A call that cannot know Drive's
 *    offset (its record came from another process, or from a failed call) asks first (empty
 *    PUT, `bytes *\/*`); so does every retry (after a reset, 5xx, 429, rate 403, under the
 *    Pacer). Bytes Drive already holds (a call cut off after Drive got them) are hashed from the
 *    local file and not sent again.
 *  - Each byte is hashed once, in upload order, as it is read (`UploadBytes`), whether it is
 *    then sent, kept as tail, or skipped because Drive has it.
 *  - The record changes at the end of each appendFile (new tail, appended, md5 state); after each
 *    acknowledged PUT only Drive's offset is persisted. A connector killed in the middle of a
 *    call thus carries on from the state before that call; a caller that repeats the call is
 *    caught up (Drive's bytes skipped), one that does not is caught by the final verification.
 *  - The in-memory sha256 is handed in and a copy handed back, kept by the caller only when the
 *    call succeeded, so it covers exactly the bytes the persisted md5 state does.
 */
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { formatObjectRef, type ObjectRef } from '../core/object-ref.js';
import type { AppendOptions, WriteResult } from '../core/types.js';
import { GdriveBackupError, localFileError } from '../errors/errors.js';
import type { Log } from '../log.js';
import { type DriveHttp, type HttpResponse, notUnauthorized } from './drive-http.js';
import { type LocalFileOptions, openLocalForAppend } from './local-files.js';
import { DriveRequestError, driveReason, type FailureContext, failureFromBody, type Pacer } from './retry.js';
import { pruneTails, readTail, writeTail } from './spool.js';
import { type Digests, type SavedHashState, UploadHash } from './stream-hash.js';

/** Every resumable PUT but the last is a multiple of this (Google's rule). */
export const UPLOAD_GRANULE = 256 * 1024;

/** The persisted state of one write handle (small, JSON, in the state store). */
export interface UploadRecord {
  kind: 'write';
  object: ObjectRef;
  /** Hook path, for messages. */
  path: string;
  parentId: string;
  name: string;
  driveId?: string;
  /** Resumable session URI; absent until the first request. Never logged. */
  sessionUri?: string;
  /** Bytes Drive confirmed as persisted, as last heard. */
  offset: number;
  /** Bytes kept in the spool, not yet persisted by Drive: the upload offset of the tail is appended - tailLength. */
  tailLength: number;
  /** Bytes received from appendFile calls so far. */
  appended: number;
  /** md5 state over the `appended` bytes (records of older versions also hold an unused sha256 state). */
  hashState: SavedHashState;
  /**
   * 'live': the process that saved this record holds a sha256 of all `appended` bytes in memory;
   * 'lost' (or absent, in older records): none does, the upload is verified by size and md5 only.
   */
  sha256?: 'live' | 'lost';
  /**
   * The most bytes one PUT carries, as configured when the handle was opened: a restart with
   * another GDRIVE_CHUNK_SIZE carries on as begun. Absent in older records (the config's then).
   */
  chunkSize?: number;
  /**
   * An appendFile after `appended` failed and no later one succeeded: closing must not finish
   * the file (it would be short), it aborts the upload instead.
   */
  appendFailed?: boolean;
  /**
   * Files of the same name that this upload replaces (openFileWrite over an existing name).
   * They stay until the new file is verified at close, then they are deleted.
   */
  replaces?: string[];
  createdAt: number;
}

/** What one upload call needs; built per call by transfer-handles.ts. */
export interface UploadEnv {
  http: DriveHttp;
  pacer: Pacer;
  /** Base URL of Google's APIs, ending with '/'. */
  apiRoot: string;
  /** Most bytes per PUT, a multiple of 256 KiB (the record's, else the config's). */
  chunkSize: number;
  /** Stalls (Drive persisting nothing of a PUT) tolerated before giving up. */
  maxAttempts: number;
  dataDir: string;
  fd: string;
  log: Log;
  /** Persists the record (the state store). */
  save(record: UploadRecord): Promise<void>;
  /** Where the appended local file may be (local-files.ts); absent: anywhere. */
  localFiles?: LocalFileOptions;
}

/** How a call may trust the record it starts from. */
export interface CallOptions extends AppendOptions {
  /** The in-memory sha256 of the record's `appended` bytes (only copied here). */
  liveSha256?: Hash;
  /**
   * The record was not left by a successful call of this process (a restart, a failed call):
   * ask Drive for its offset before the first PUT.
   */
  askFirst?: boolean;
}

/** The file resource Drive answers a finished upload with (the fields asked at start). */
export interface DriveFileResource {
  id?: string;
  name?: string;
  size?: string;
  md5Checksum?: string;
  sha256Checksum?: string;
}

/** What appendToUpload did: bytes appended, and the sha256 over every byte if it had the live one. */
export interface AppendOutcome {
  bytes: number;
  sha256?: Hash;
}

type PutOutcome = { done: false; persisted: number } | { done: true; file: DriveFileResource };

const UPLOAD_FIELDS = 'id,name,size,md5Checksum,sha256Checksum';
/** Bytes read from the local file at a time. */
const READ_BLOCK = 1024 * 1024;
/** Read buffers of one call, reused in turn (UploadBytes.body says why that is safe). */
const BODY_BLOCKS = 4;
/**
 * The buffers of one appendFile call (the read ring, the kept tail read in, the new tail), handed
 * on to the next call once this one is over. Fresh ones per call left about 4.5 MiB of garbage
 * outside the JS heap per piece; such buffers outlive a young-generation GC (a call lasts
 * seconds), and V8 collects the old generation for external memory only after it grew by tens
 * of MiB: peak RSS grew with the number of pieces. More uploads at once than SPARE_BUFFERS
 * allocate their own.
 */
class CallBuffers {
  /** Read buffers reused in turn; see UploadBytes.body. */
  readonly ring: Buffer[] = [];
  private readonly tails: [Buffer | undefined, Buffer | undefined] = [undefined, undefined];

  /** `length` bytes for tail `slot` (0: the kept tail read in, 1: the new tail), reused up to a granule. */
  tail(slot: 0 | 1, length: number): Buffer {
    if (length === 0 || length > UPLOAD_GRANULE) return Buffer.allocUnsafeSlow(length);
    this.tails[slot] ??= Buffer.allocUnsafeSlow(UPLOAD_GRANULE);
    return this.tails[slot].subarray(0, length);
  }

  static take(): CallBuffers {
    return spareBuffers.pop() ?? new CallBuffers();
  }

  /** Only once no request, read or tail of the call uses them any more. */
  giveBack(): void {
    if (spareBuffers.length < SPARE_BUFFERS) spareBuffers.push(this);
  }
}
const spareBuffers: CallBuffers[] = [];
const SPARE_BUFFERS = 2;

/** What opening a write handle names: where the file goes and what it replaces. */
export interface OpenWriteInput {
  object: ObjectRef;
  path: string;
  parentId: string;
  name: string;
  driveId?: string;
  /** Ids of files of this name the upload replaces: deleted once it is verified. */
  replaces?: string[];
}

export function newUploadRecord(
  input: OpenWriteInput,
  hashState: SavedHashState,
  chunkSize: number,
  now: number,
): UploadRecord {
  const record: UploadRecord = {
    kind: 'write',
    object: input.object,
    path: input.path,
    parentId: input.parentId,
    name: input.name,
    offset: 0,
    tailLength: 0,
    appended: 0,
    hashState,
    sha256: 'live',
    chunkSize,
    createdAt: now,
  };
  if (input.driveId !== undefined) record.driveId = input.driveId;
  if (input.replaces !== undefined && input.replaces.length > 0) record.replaces = [...input.replaces];
  return record;
}

/** The object and hook path of a handle, as error sentences name them. */
export function failureContext(record: { object: ObjectRef; path: string }): FailureContext {
  return { object: formatObjectRef(record.object), path: record.path };
}

/**
 * Appends the whole of `localFile` to the upload. Returns the bytes appended and, when
 * `options.liveSha256` was given, a new hasher that has also seen this call's bytes; the record
 * is updated and saved. Memory: the kept tail and the read blocks of the PUT in flight.
 */
export async function appendToUpload(
  env: UploadEnv,
  start: UploadRecord,
  localFile: string,
  options: CallOptions = {},
): Promise<AppendOutcome> {
  const context = failureContext(start);
  const file = await openLocalForAppend(localFile, env.localFiles);
  let reader: UploadBytes | undefined;
  const buffers = CallBuffers.take();
  try {
    const size = file.size;
    const hash = await UploadHash.create(start.hashState, options.liveSha256);
    // The upload's bytes [windowStart, end) during this call: the kept tail, then the piece.
    const windowStart = start.appended - start.tailLength;
    const end = start.appended + size;
    const tail = await readTail(
      env.dataDir,
      env.fd,
      windowStart,
      start.tailLength,
      buffers.tail(0, start.tailLength),
    );
    const bytes = new UploadBytes(
      tail,
      windowStart,
      file.handle,
      start.appended,
      end,
      hash,
      localFile,
      buffers,
    );
    reader = bytes;
    let record: UploadRecord = { ...start };

    // Asked: where Drive is, unless this process's own last call left the record.
    let at = record.offset;
    if (options.askFirst && record.sessionUri !== undefined) {
      const status = await queryOffset(env, context, record.sessionUri);
      if (status.done) throw unexpectedFinish(record);
      at = status.persisted;
    }
    if (at < windowStart) throw sessionLost(record, at, windowStart);
    if (at > record.offset) {
      // Drive got more than we heard of (a call cut off before its answer): kept, so that the
      // next call, which trusts the record, starts from there.
      record = { ...record, offset: at };
      await env.save(record);
    }

    // Sending: whole granules from Drive's offset, as many as leave at least one byte for the
    // close. A non-final chunk's LENGTH must be a multiple of 256 KiB; Drive's offset need not be
    // (a request cut off mid-body persists what arrived, e.g. "Range: bytes=0-42" in Google's
    // resumable-upload guide), so the granules count from `at`, not from byte 0.
    const sendableEnd = (from: number) =>
      from + Math.floor(Math.max(0, end - 1 - from) / UPLOAD_GRANULE) * UPLOAD_GRANULE;
    let sendEnd = sendableEnd(at);
    const progress = new Progress(start.appended, size, options.onProgress);
    let stalls = 0;
    while (at < sendEnd) {
      record = await ensureSession(env, record, context);
      // Bytes Drive holds already (an earlier call was cut off) are hashed, not sent.
      await bytes.hashThrough(at);
      const to = Math.min(sendEnd, at + env.chunkSize);
      const outcome = await putRange(
        env,
        context,
        record.sessionUri!,
        (from) => bytes.body(from, to, progress),
        at,
        to,
        null,
      );
      if (outcome.done) throw unexpectedFinish(record);
      if (outcome.persisted < at) throw sessionLost(record, outcome.persisted, at);
      stalls = outcome.persisted === at ? stalls + 1 : 0;
      if (stalls >= env.maxAttempts) throw stalled(record, stalls);
      at = outcome.persisted;
      sendEnd = sendableEnd(at);
      if (at > record.offset) {
        record = { ...record, offset: at };
        await env.save(record);
      }
    }

    // Tail kept: what is left after Drive's offset, hashed on the way like every other byte.
    const tailStart = Math.min(end, Math.max(at, sendEnd));
    await bytes.hashThrough(tailStart);
    const newTail = await bytes.collect(tailStart, end);
    if (newTail.length > 0 && (tailStart !== windowStart || newTail.length !== start.tailLength))
      await writeTail(env.dataDir, env.fd, tailStart, newTail);
    const sha256 = hash.liveSha256();
    record = {
      ...record,
      tailLength: newTail.length,
      appended: end,
      hashState: hash.save(),
      sha256: sha256 === undefined ? 'lost' : 'live',
    };
    delete record.appendFailed;
    await env.save(record);
    await pruneTails(env.dataDir, env.fd, newTail.length > 0 ? tailStart : null);
    progress.done();
    env.log.debug('upload: appended', { fd: env.fd, bytes: size, appended: end, offset: record.offset });
    return sha256 === undefined ? { bytes: size } : { bytes: size, sha256 };
  } finally {
    await reader?.settled();
    buffers.giveBack();
    await file.handle.close();
  }
}

/**
 * Finalising: sends the kept tail as the last PUT (the total named), and checks Drive's answer
 * against our size and hashes. A mismatch deletes the file on Drive and throws
 * `verification_failed`. Without `options.liveSha256` (a restart in between) size and md5 are
 * checked and Drive's sha256 is reported. Once verified, the files it replaces are deleted.
 */
export async function finishUpload(
  env: UploadEnv,
  start: UploadRecord,
  options: CallOptions = {},
): Promise<WriteResult & { fileId?: string }> {
  const context = failureContext(start);
  const total = start.appended;
  const ours = (await UploadHash.create(start.hashState, options.liveSha256)).digest();
  const tailStart = total - start.tailLength;
  const tail = await readTail(env.dataDir, env.fd, tailStart, start.tailLength);
  const hadSession = start.sessionUri !== undefined;
  let record = await ensureSession(env, start, context);

  let file: DriveFileResource | undefined;
  let at = record.offset;
  if (options.askFirst && hadSession) {
    const status = await queryOffset(env, context, record.sessionUri!);
    // A close cut off after Drive finished: its answer is what is verified.
    if (status.done) file = status.file;
    else at = status.persisted;
    if (at > record.offset) {
      record = { ...record, offset: at };
      await env.save(record);
    }
  }
  let stalls = 0;
  while (file === undefined) {
    if (at < tailStart) throw sessionLost(record, at, tailStart);
    if (at > total) throw driveAheadOfTotal(record, at, total);
    const from = at;
    const outcome = await putRange(
      env,
      context,
      record.sessionUri!,
      () => tail.subarray(from - tailStart),
      from,
      total,
      total,
    );
    if (outcome.done) {
      file = outcome.file;
      break;
    }
    if (outcome.persisted < at) throw sessionLost(record, outcome.persisted, at);
    stalls = outcome.persisted === at ? stalls + 1 : 0;
    if (stalls >= env.maxAttempts) throw stalled(record, stalls);
    at = outcome.persisted;
    if (at > record.offset) {
      record = { ...record, offset: at };
      await env.save(record);
    }
  }

  // md5 (like sha256) is only "if available": an answer without it is re-read before anything goes.
  if (file.md5Checksum === undefined && file.id) file = await rereadFile(env, context, file.id);
  // Verified, or removed.
  const failure = verificationError(file, total, ours, record.path);
  if (failure !== undefined) {
    env.log.warn('upload: verification failed, removing the file', {
      fd: env.fd,
      detail: failure.params.detail,
    });
    if (file.id) await deleteDriveFile(env, context, file.id, 'the unverified file');
    throw failure;
  }
  env.log.debug('upload: finished and verified', { fd: env.fd, bytes: total });
  for (const old of record.replaces ?? []) {
    if (old !== file.id) await deleteDriveFile(env, context, old, 'the replaced file');
  }
  const fileId = file.id ? { fileId: file.id } : {};
  if (ours.sha256 !== undefined) return { size: total, md5: ours.md5, sha256: ours.sha256, ...fileId };
  env.log.info(
    "upload: sha256 not re-computed (a restart or a repeated call in between), reporting Drive's; size and md5 verified",
    {
      fd: env.fd,
      bytes: total,
    },
  );
  return { size: total, md5: ours.md5, sha256: file.sha256Checksum?.toLowerCase() ?? '', ...fileId };
}

/**
 * Removes what Drive holds of an upload that must not finish (a close after a failed append):
 * the session is cancelled (DELETE on its URI, as Google documents for its resumable uploads in
 * Cloud Storage: https://cloud.google.com/storage/docs/performing-resumable-uploads#cancel-upload;
 * Drive's pages do not mention it, and an unfinished session makes no file and lapses after about
 * a week anyway); a session that did finish (a close cut off after its last PUT) has its file
 * deleted. Best effort: failures are logged; the files the upload would replace are kept.
 */
export async function abortUpload(env: UploadEnv, record: UploadRecord): Promise<void> {
  const context = failureContext(record);
  const sessionUri = record.sessionUri;
  if (sessionUri === undefined) return;
  try {
    const status = await queryOffset(env, context, sessionUri);
    if (status.done) {
      if (status.file.id) await deleteDriveFile(env, context, status.file.id, 'the incomplete file');
      return;
    }
    await env.pacer.run('upload.cancel', context, async () => {
      const res = await env.http.request<string>({
        url: sessionUri,
        method: 'DELETE',
        responseType: 'text',
        validateStatus: notUnauthorized,
        retry: false,
      });
      // 499 is Google's answer to a cancelled upload; 404/410: the session is gone already.
      if (res.status >= 500 || res.status === 429) throw requestFailure(res);
    });
  } catch (error) {
    if (isGdriveBackupErrorCode(error, 'upload_session_expired')) return;
    env.log.warn('upload: could not cancel the upload session', {
      fd: env.fd,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

function isGdriveBackupErrorCode(error: unknown, code: string): boolean {
  return error instanceof GdriveBackupError && error.code === code;
}

/**
 * The bytes of the upload one appendFile call deals with: the kept tail (in memory, hashed by an
 * earlier call) then the local file, read in blocks. Every byte of the file goes through the
 * hashers exactly once and in order, the first time it is read, whatever reads it (a request
 * body, a resend after a short 308, the skip over bytes Drive holds, the new tail).
 */
class UploadBytes {
  /** Upload offset up to which the hashers have seen the bytes. */
  private hashedTo: number;
  /** Reads of the local file, one after another (a destroyed body's last read included). */
  private reading: Promise<unknown> = Promise.resolve();
  private turn = 0;

  constructor(
    private readonly tail: Buffer,
    private readonly tailStart: number,
    private readonly file: FileHandle,
    /** Upload offset of the local file's first byte (= the end of the tail). */
    private readonly fileStart: number,
    private readonly end: number,
    private readonly hash: UploadHash,
    readonly path: string,
    /** The ring read into and the new tail's buffer (CallBuffers). */
    private readonly buffers: CallBuffers,
  ) {
    this.hashedTo = fileStart;
  }

  /** Reads and hashes the bytes not hashed yet below `to` (Drive has them, or they are the tail). */
  async hashThrough(to: number): Promise<void> {
    while (this.hashedTo < Math.min(to, this.end)) await this.block(this.hashedTo, to);
  }

  /** [from, to) as one buffer of its own (the new tail: at most 256 KiB, or what Drive lacks). */
  async collect(from: number, to: number): Promise<Buffer> {
    // The new tail's own buffer, never a ring buffer (the ring is read into again next call).
    const into = this.buffers.tail(1, to - from);
    for (let pos = from; pos < to; ) {
      const block = await this.block(pos, to, into.subarray(pos - from));
      // A view of the kept tail is copied; a block of the file was read into place.
      if (pos < this.fileStart) block.copy(into, pos - from);
      pos += block.length;
    }
    return into;
  }

  /**
   * A request body streaming [from, to); reports each block handed to the request.
   *
   * The file is read into a ring of BODY_BLOCKS buffers, reused in turn: a fresh buffer per
   * block cost about a third more CPU (page faults and GC of 1 MiB buffers). Reuse is safe
   * because the body is piped (node-fetch pipes it into the request): the pipe takes the next
   * block only after the socket drained the previous ones, the stream reads at most one block
   * ahead (highWaterMark), and reads run one at a time, so at most three blocks are in use when
   * a fourth is read; a request is over (answered, or its body destroyed) before the next one
   * starts. Were that ever broken, Drive would get other bytes than were hashed, and the final
   * check of its md5 would refuse the file (verification_failed), never store it as good.
   */
  body(from: number, to: number, progress: Progress): BodyStream {
    const bytes = this;
    let pos = from;
    const stream: BodyStream = new BodyStream({
      highWaterMark: READ_BLOCK,
      read(): void {
        if (pos >= to) {
          this.push(null);
          return;
        }
        bytes.block(pos, to).then(
          (block) => {
            pos += block.length;
            progress.sent(pos);
            this.push(block);
          },
          (error: unknown) => {
            stream.localFailure = asLocalFileError(bytes.path, error);
            this.destroy(stream.localFailure);
          },
        );
      },
    });
    return stream;
  }

  /** Waits for the last read (before the local file is closed). */
  async settled(): Promise<void> {
    await this.reading.catch(() => undefined);
  }

  /**
   * Up to READ_BLOCK bytes of [pos, to): a view of the tail, or a block of the file read into
   * the next ring buffer, or into `into` when given.
   */
  private block(pos: number, to: number, into?: Buffer): Promise<Buffer> {
    if (pos < this.fileStart)
      return Promise.resolve(
        this.tail.subarray(pos - this.tailStart, Math.min(to, this.fileStart) - this.tailStart),
      );
    const read = this.reading.then(
      () => this.readBlock(pos, to, into),
      () => this.readBlock(pos, to, into),
    );
    this.reading = read.catch(() => undefined);
    return read;
  }

  private async readBlock(pos: number, to: number, into?: Buffer): Promise<Buffer> {
    const length = Math.min(to, this.end, pos + READ_BLOCK) - pos;
    const block = (into ?? this.nextRingBuffer()).subarray(0, length);
    let filled = 0;
    while (filled < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.file.read(block, filled, length - filled, pos - this.fileStart + filled));
      } catch (error) {
        throw localFileError(this.path, error);
      }
      if (bytesRead === 0)
        throw new GdriveBackupError('local_file_error', {
          path: this.path,
          reason: 'it became shorter while it was being read',
        });
      filled += bytesRead;
    }
    this.see(pos, block);
    return block;
  }

  private nextRingBuffer(): Buffer {
    const ring = this.buffers.ring;
    if (ring.length < BODY_BLOCKS) {
      const fresh = Buffer.allocUnsafeSlow(READ_BLOCK);
      ring.push(fresh);
      this.turn = ring.length;
      return fresh;
    }
    return ring[this.turn++ % BODY_BLOCKS]!;
  }

  private see(pos: number, block: Buffer): void {
    const blockEnd = pos + block.length;
    if (blockEnd <= this.hashedTo) return;
    if (pos > this.hashedTo)
      throw new GdriveBackupError('internal', { detail: 'upload bytes were read out of order' });
    this.hash.update(block.subarray(this.hashedTo - pos));
    this.hashedTo = blockEnd;
  }
}

/**
 * A request body read from the local file. A read that fails there (the file shrank, EIO) ends
 * the request as a network error would; `localFailure` keeps what really happened, so the
 * caller reports it instead of retrying the request.
 */
class BodyStream extends Readable {
  localFailure?: GdriveBackupError;
}

function asLocalFileError(path: string, error: unknown): GdriveBackupError {
  return error instanceof GdriveBackupError ? error : localFileError(path, error);
}

/** The progress callback of one appendFile: bytes of its piece handed to Drive, never going back. */
class Progress {
  private reported = 0;

  constructor(
    private readonly fileStart: number,
    private readonly size: number,
    private readonly onProgress: ((bytesSentInThisCall: number) => void) | undefined,
  ) {}

  /** Bytes up to upload offset `position` went out. */
  sent(position: number): void {
    this.report(Math.min(this.size, position - this.fileStart));
  }

  /** The call succeeded: all of its piece is Drive's or kept. */
  done(): void {
    this.report(this.size);
  }

  private report(bytes: number): void {
    if (this.onProgress === undefined || bytes <= this.reported) return;
    this.reported = bytes;
    this.onProgress(bytes);
  }
}

/**
 * Drive's answer to the last chunk against what was appended: `verification_failed` for `path`,
 * or undefined when it matches. sha256 is compared when we have ours (no restart in between)
 * and Drive reports one.
 */
export function verificationError(
  file: DriveFileResource,
  total: number,
  ours: Digests,
  path: string,
): GdriveBackupError | undefined {
  const detail = mismatch(file, total, ours);
  return detail === undefined ? undefined : new GdriveBackupError('verification_failed', { path, detail });
}

function mismatch(file: DriveFileResource, total: number, ours: Digests): string | undefined {
  if (file.size === undefined || Number(file.size) !== total)
    return `Drive has ${file.size ?? 'no size'} bytes, ${total} were sent`;
  if (file.md5Checksum === undefined) return 'Drive reported no md5 checksum';
  if (file.md5Checksum.toLowerCase() !== ours.md5) return 'md5 differs';
  if (
    ours.sha256 !== undefined &&
    file.sha256Checksum !== undefined &&
    file.sha256Checksum.toLowerCase() !== ours.sha256
  )
    return 'sha256 differs';
  return undefined;
}

/** Starts the resumable session if the handle has none yet, and persists its URI at once. */
async function ensureSession(
  env: UploadEnv,
  record: UploadRecord,
  context: FailureContext,
): Promise<UploadRecord> {
  if (record.sessionUri !== undefined) return record;
  const url = `${env.apiRoot}upload/drive/v3/files?uploadType=resumable&supportsAllDrives=true&fields=${UPLOAD_FIELDS}`;
  const metadata = { name: record.name, parents: [record.parentId], mimeType: 'application/octet-stream' };
  const sessionUri = await env.pacer.run('upload.start', context, async () => {
    const res = await env.http.request<string>({
      url,
      method: 'POST',
      headers: {
        'Content-Type': 'application/json; charset=UTF-8',
        'X-Upload-Content-Type': 'application/octet-stream',
      },
      data: JSON.stringify(metadata),
      responseType: 'text',
      validateStatus: notUnauthorized,
      retry: false,
    });
    if (res.status !== 200 && res.status !== 201) throw requestFailure(res);
    const location = res.headers.get('location');
    if (!location)
      throw new GdriveBackupError('drive_error', { detail: 'the upload session answer had no Location' });
    return new URL(location, env.apiRoot).toString();
  });
  const next = { ...record, sessionUri };
  await env.save(next);
  return next;
}

/**
 * One PUT of the upload's bytes [from, to) (`total` null while unknown; from === to with a total
 * is the empty final PUT), under the Pacer. `body(start)` gives the request body from `start` to
 * `to`, built anew for every attempt (a stream is spent once sent). A retry first asks Drive for
 * its offset; when Drive holds more than `from`, that is returned without sending, and the
 * caller continues from there: no range ever overlaps what Drive holds.
 */
async function putRange(
  env: UploadEnv,
  context: FailureContext,
  sessionUri: string,
  body: (start: number) => Buffer | Readable,
  from: number,
  to: number,
  total: number | null,
): Promise<PutOutcome> {
  return env.pacer.run('upload.chunk', context, async (attempt) => {
    if (attempt > 1) {
      const status = await send(env, context, sessionUri, 'bytes */*', undefined, 0);
      if (status.done || status.persisted !== from) return status;
    }
    if (from === to) return send(env, context, sessionUri, `bytes */${total}`, undefined, 0);
    const range = `bytes ${from}-${to - 1}/${total === null ? '*' : total}`;
    const data = body(from);
    try {
      return await send(env, context, sessionUri, range, data, to - from);
    } catch (error) {
      if (data instanceof BodyStream && data.localFailure !== undefined) throw data.localFailure;
      throw error;
    } finally {
      // Drive may answer before reading the whole body: stop reading the local file then.
      if (data instanceof Readable) data.destroy();
    }
  });
}

/** Drive's offset for the session (the status query), under the Pacer. */
async function queryOffset(env: UploadEnv, context: FailureContext, sessionUri: string): Promise<PutOutcome> {
  return env.pacer.run('upload.status', context, () =>
    send(env, context, sessionUri, 'bytes */*', undefined, 0),
  );
}

async function send(
  env: UploadEnv,
  context: FailureContext,
  sessionUri: string,
  contentRange: string,
  body: Buffer | Readable | undefined,
  length: number,
): Promise<PutOutcome> {
  const res = await env.http.request<string>({
    url: sessionUri,
    method: 'PUT',
    // A streamed body has no length of its own: without it the request would go chunked.
    headers: { 'Content-Range': contentRange, 'Content-Length': String(length) },
    data: body,
    responseType: 'text',
    validateStatus: notUnauthorized,
    retry: false,
    // A 308 here is "Resume Incomplete", never a redirect to follow.
    redirect: 'manual',
  });
  if (res.status === 308) return { done: false, persisted: persistedFromRange(res.headers.get('range')) };
  if (res.status === 200 || res.status === 201) return { done: true, file: parseResource(res.data) };
  if (res.status === 404 || res.status === 410)
    throw new GdriveBackupError('upload_session_expired', { ...context });
  throw requestFailure(res);
}

/** `Range: bytes=0-N` means N+1 bytes persisted; no header means none. */
export function persistedFromRange(header: string | null): number {
  if (!header) return 0;
  const match = /^bytes=0-(\d+)$/.exec(header.trim());
  if (!match) throw new GdriveBackupError('drive_error', { detail: `unexpected Range header "${header}"` });
  return Number(match[1]) + 1;
}

function parseResource(data: unknown): DriveFileResource {
  if (typeof data === 'object' && data !== null) return data as DriveFileResource;
  try {
    const parsed: unknown = JSON.parse(String(data));
    if (typeof parsed === 'object' && parsed !== null) return parsed as DriveFileResource;
  } catch {
    // fall through: a finished upload without a JSON body cannot be verified
  }
  return {};
}

function requestFailure(res: HttpResponse<unknown>): DriveRequestError {
  return new DriveRequestError(failureFromBody(res.status, res.data, res.headers.get('retry-after')));
}

/** The finished file's size and checksums, from files.get. */
async function rereadFile(
  env: UploadEnv,
  context: FailureContext,
  fileId: string,
): Promise<DriveFileResource> {
  const url = `${env.apiRoot}drive/v3/files/${encodeURIComponent(fileId)}?supportsAllDrives=true&fields=${UPLOAD_FIELDS}`;
  return env.pacer.run('files.get', context, async () => {
    const res = await env.http.request<string>({
      url,
      method: 'GET',
      responseType: 'text',
      validateStatus: notUnauthorized,
      retry: false,
    });
    if (res.status !== 200) throw requestFailure(res);
    return parseResource(res.data);
  });
}

async function deleteDriveFile(
  env: UploadEnv,
  context: FailureContext,
  fileId: string,
  what: string,
): Promise<void> {
  const url = `${env.apiRoot}drive/v3/files/${encodeURIComponent(fileId)}?supportsAllDrives=true`;
  const send = (label: string, method: 'DELETE' | 'PATCH', data?: string) =>
    env.pacer.run(label, context, async () => {
      const res = await env.http.request<string>({
        url,
        method,
        responseType: 'text',
        validateStatus: notUnauthorized,
        retry: false,
        ...(data === undefined ? {} : { data, headers: { 'content-type': 'application/json' } }),
      });
      if (res.status >= 300 && res.status !== 404) throw requestFailure(res);
    });
  try {
    try {
      await send('files.delete', 'DELETE');
    } catch (error) {
      // A shared drive's content manager may only trash (as DriveApi.deleteItem does).
      if (driveReason(error) !== 'insufficientFilePermissions') throw error;
      await send('files.update', 'PATCH', JSON.stringify({ trashed: true }));
    }
  } catch (error) {
    // The call's own outcome stands; the stray copy is only logged.
    env.log.error(`upload: could not remove ${what}`, {
      fd: env.fd,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

function unexpectedFinish(record: UploadRecord): GdriveBackupError {
  return new GdriveBackupError('drive_error', {
    detail: `Drive finished the upload of "${record.path}" before its last chunk`,
  });
}

function driveAheadOfTotal(record: UploadRecord, held: number, total: number): GdriveBackupError {
  // Bytes of a cut-off call that was not repeated: the upload cannot end at its total.
  return new GdriveBackupError('verification_failed', {
    path: record.path,
    detail: `Drive holds ${held} bytes of a file of ${total}`,
  });
}

function sessionLost(record: UploadRecord, persisted: number, expected: number): GdriveBackupError {
  // Drive forgot bytes it had confirmed: the session cannot be trusted any more.
  return new GdriveBackupError('upload_session_expired', {
    ...failureContext(record),
    detail: `Drive holds ${persisted} bytes, ${expected} were confirmed`,
  });
}

function stalled(record: UploadRecord, stalls: number): GdriveBackupError {
  return new GdriveBackupError('drive_unavailable', {
    ...failureContext(record),
    attempts: stalls,
    detail: 'Drive persisted none of the chunk',
  });
}
