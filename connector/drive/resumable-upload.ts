/**
 * Drive's resumable upload, fed piece by piece (appendFile) and finished by closeWrite.
 *
 * Protocol: shared/reference/google-drive-facts.md, "Resumable upload". The states read top to
 * bottom: open (a record, no request) -> session started on the first chunk -> sending full
 * chunks -> tail kept on disk between calls -> finalising (the last chunk names the total) ->
 * verified against Drive's size/md5/sha256 (size/md5 only after a restart: stream-hash.ts).
 *
 * Why it looks the way it does:
 *  - Every chunk but the last must be a multiple of 256 KiB, so bytes gather in one buffer of
 *    exactly `chunkSize` bytes (a multiple of 256 KiB); only a full buffer is sent, and only when
 *    at least one more byte is known to follow, so the last request can carry the total and a
 *    file of c chunks costs c PUTs plus the session start.
 *  - A 308 says how much Drive PERSISTED, which can be less than we sent: the buffer's start
 *    always equals Drive's offset, the persisted prefix is dropped and the rest stays, is topped
 *    up from the local file and sent again. We never assume sent == persisted.
 *  - After an interruption (reset, 5xx, 429, rate 403) the Pacer backs off, and before
 *    resending we ask Drive where it is (empty PUT, `bytes *\/*`).
 *  - The record of a handle changes at the end of each appendFile (new tail, appended, md5
 *    state); after each acknowledged chunk only Drive's offset is persisted. A connector killed
 *    in the middle of a call thus carries on from the state before that call: a caller that
 *    repeats the call sends the same bytes again, which Drive skips (overlap is allowed); one
 *    that does not is caught by the final verification.
 *  - The in-memory sha256 is handed in and a copy handed back, kept by the caller only when the
 *    call succeeded, so it covers exactly the bytes the persisted md5 state does.
 */
import type { Hash } from 'node:crypto';
import { GdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import { formatObjectRef, type ObjectRef } from '../transport/object-ref.js';
import type { WriteResult } from '../transport/types.js';
import { type DriveHttp, type HttpResponse, notUnauthorized } from './drive-http.js';
import { type LocalFileOptions, openLocalForAppend } from './local-files.js';
import { DriveRequestError, type FailureContext, failureFromBody, type Pacer } from './retry.js';
import { pruneTails, readTail, writeTail } from './spool.js';
import { type Digests, type SavedHashState, UploadHash } from './stream-hash.js';

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
  createdAt: number;
}

/** What one upload call needs; built per call by transfer-handles.ts. */
export interface UploadEnv {
  http: DriveHttp;
  pacer: Pacer;
  /** Base URL of Google's APIs, ending with '/'. */
  apiRoot: string;
  /** Bytes per PUT, a multiple of 256 KiB; equals buffer.length. */
  chunkSize: number;
  /** Stalls (Drive persisting nothing of a chunk) tolerated before giving up. */
  maxAttempts: number;
  dataDir: string;
  fd: string;
  log: Log;
  /** The chunk buffer, `chunkSize` bytes, used only by this call. */
  buffer: Buffer;
  /** Persists the record (the state store). */
  save(record: UploadRecord): Promise<void>;
  /** Where the appended local file may be (local-files.ts); absent: anywhere. */
  localFiles?: LocalFileOptions;
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

export function newUploadRecord(
  input: { object: ObjectRef; path: string; parentId: string; name: string; driveId?: string },
  hashState: SavedHashState,
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
    createdAt: now,
  };
  if (input.driveId !== undefined) record.driveId = input.driveId;
  return record;
}

/** The object and hook path of a handle, as error sentences name them. */
export function failureContext(record: { object: ObjectRef; path: string }): FailureContext {
  return { object: formatObjectRef(record.object), path: record.path };
}

/**
 * Appends the whole of `localFile` to the upload. Returns the bytes appended and, when
 * `liveSha256` (the in-memory sha256 of the `start.appended` bytes, not advanced here) was given,
 * a new hasher that has also seen this call's bytes; the record is updated and saved. Memory:
 * `env.buffer` only (the local file is read straight into it).
 */
export async function appendToUpload(
  env: UploadEnv,
  start: UploadRecord,
  localFile: string,
  liveSha256?: Hash,
): Promise<AppendOutcome> {
  const context = failureContext(start);
  const file = await openLocalForAppend(localFile, env.localFiles);
  try {
    const size = file.size;
    const hash = await UploadHash.create(start.hashState, liveSha256);
    const buffer = env.buffer;
    const chunk = env.chunkSize;

    // The window [bufStart, bufStart + bufLen) of the upload sits in buffer[0, bufLen).
    let bufStart = start.appended - start.tailLength;
    let bufLen = start.tailLength;
    await readTail(env.dataDir, env.fd, bufStart, bufLen, buffer);
    // Bytes Drive already holds beyond the window (an earlier call was cut off after Drive got
    // them): they are hashed as they arrive but not sent again.
    let driveAhead = 0;
    // buffer[0, hashed) went through the hashers already (the tail did, in an earlier call).
    let hashed = bufLen;
    let record: UploadRecord = { ...start };
    let consumed = 0;
    let stalls = 0;

    while (consumed < size) {
      if (bufLen === chunk) {
        // Full, and more bytes follow: this cannot be the last chunk.
        record = await ensureSession(env, record, context);
        const sending = settle(putRange(env, context, record.sessionUri!, buffer, bufStart, null));
        // Hash the chunk while it travels (the buffer is not touched until Drive answers).
        await hashInSlices(hash, buffer.subarray(hashed, bufLen));
        hashed = bufLen;
        const outcome = unwrap(await sending);
        if (outcome.done) throw unexpectedFinish(record);
        const persisted = outcome.persisted;
        if (persisted < bufStart) throw sessionLost(record, persisted, bufStart);
        stalls = persisted === bufStart ? stalls + 1 : 0;
        if (stalls >= env.maxAttempts) throw stalled(record, stalls);
        const drop = Math.min(persisted - bufStart, bufLen);
        buffer.copyWithin(0, drop, bufLen);
        bufLen -= drop;
        hashed = bufLen;
        driveAhead = persisted - bufStart - drop;
        bufStart = persisted;
        if (persisted > record.offset) {
          record = { ...record, offset: persisted };
          await env.save(record);
        }
        continue;
      }
      const want = Math.min(chunk - bufLen, size - consumed);
      const { bytesRead } = await file.handle.read(buffer, bufLen, want, consumed);
      if (bytesRead === 0)
        throw new GdriveBackupError('local_file_error', {
          path: localFile,
          reason: 'it became shorter while it was being read',
        });
      consumed += bytesRead;
      bufLen += bytesRead;
      if (driveAhead > 0) {
        // Drive has these already: hash them, then leave them out of the window.
        hash.update(buffer.subarray(hashed, bufLen));
        const skip = Math.min(driveAhead, bytesRead);
        buffer.copyWithin(bufLen - bytesRead, bufLen - bytesRead + skip, bufLen);
        driveAhead -= skip;
        bufLen -= skip;
        hashed = bufLen;
      }
    }
    hash.update(buffer.subarray(hashed, bufLen));

    const appended = start.appended + size;
    // Drive may hold bytes beyond what we received only after a cut-off call; the tail then
    // restarts at what we know, and Drive skips the overlap.
    const tailStart = appended - bufLen;
    if (bufLen > 0 && (tailStart !== start.appended - start.tailLength || bufLen !== start.tailLength))
      await writeTail(env.dataDir, env.fd, tailStart, buffer.subarray(0, bufLen));
    const sha256 = hash.liveSha256();
    record = {
      ...record,
      tailLength: bufLen,
      appended,
      hashState: hash.save(),
      sha256: sha256 === undefined ? 'lost' : 'live',
    };
    await env.save(record);
    await pruneTails(env.dataDir, env.fd, bufLen > 0 ? tailStart : null);
    env.log.debug('upload: appended', { fd: env.fd, bytes: size, appended, offset: record.offset });
    return sha256 === undefined ? { bytes: size } : { bytes: size, sha256 };
  } finally {
    await file.handle.close();
  }
}

/**
 * Sends the kept tail as the last chunk (the total named), and checks Drive's answer against our
 * size and hashes. A mismatch deletes the file on Drive and throws `verification_failed`.
 * `liveSha256` (the in-memory sha256 of all appended bytes, only copied here) is absent after a
 * restart: then size and md5 are checked and Drive's sha256 is reported.
 */
export async function finishUpload(
  env: UploadEnv,
  start: UploadRecord,
  liveSha256?: Hash,
): Promise<WriteResult> {
  const context = failureContext(start);
  const total = start.appended;
  const ours = (await UploadHash.create(start.hashState, liveSha256)).digest();
  const tailStart = total - start.tailLength;
  await readTail(env.dataDir, env.fd, tailStart, start.tailLength, env.buffer);
  let record = await ensureSession(env, start, context);

  let view = env.buffer.subarray(0, start.tailLength);
  let from = tailStart;
  let stalls = 0;
  let file: DriveFileResource;
  for (;;) {
    const outcome = await putRange(env, context, record.sessionUri!, view, from, total);
    if (outcome.done) {
      file = outcome.file;
      break;
    }
    const persisted = outcome.persisted;
    if (persisted < from) throw sessionLost(record, persisted, from);
    stalls = persisted === from ? stalls + 1 : 0;
    if (stalls >= env.maxAttempts) throw stalled(record, stalls);
    view = view.subarray(Math.min(persisted - from, view.length));
    from = persisted;
    if (persisted > record.offset) {
      record = { ...record, offset: persisted };
      await env.save(record);
    }
  }

  const failure = verificationError(file, total, ours, record.path);
  if (failure !== undefined) {
    env.log.warn('upload: verification failed, removing the file', {
      fd: env.fd,
      detail: failure.params.detail,
    });
    if (file.id) await deleteDriveFile(env, context, file.id);
    throw failure;
  }
  env.log.debug('upload: finished and verified', { fd: env.fd, bytes: total });
  if (ours.sha256 !== undefined) return { size: total, md5: ours.md5, sha256: ours.sha256 };
  env.log.info(
    "upload: sha256 not re-computed (a restart or a repeated call in between), reporting Drive's; size and md5 verified",
    {
      fd: env.fd,
      bytes: total,
    },
  );
  return { size: total, md5: ours.md5, sha256: file.sha256Checksum?.toLowerCase() ?? '' };
}

/** Slices small enough that the event loop keeps the socket busy between them. */
const HASH_SLICE = 1024 * 1024;

async function hashInSlices(hash: UploadHash, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length; at += HASH_SLICE) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    hash.update(bytes.subarray(at, Math.min(at + HASH_SLICE, bytes.length)));
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise that never rejects, so a failure while we are busy hashing is not "unhandled". */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

function unwrap<T>(settled: Settled<T>): T {
  if (!settled.ok) throw settled.error;
  return settled.value;
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
 * One PUT of `bytes` at upload offset `start` (`total` null while unknown), under the Pacer. A
 * retry first asks Drive for its offset; when Drive already has more than `start`, that is
 * returned without resending, and the caller realigns its window.
 */
async function putRange(
  env: UploadEnv,
  context: FailureContext,
  sessionUri: string,
  bytes: Buffer,
  start: number,
  total: number | null,
): Promise<PutOutcome> {
  return env.pacer.run('upload.chunk', context, async (attempt) => {
    if (attempt > 1) {
      const status = await send(env, context, sessionUri, 'bytes */*', undefined);
      if (status.done || status.persisted !== start) return status;
    }
    const range =
      bytes.length === 0
        ? `bytes */${total}`
        : `bytes ${start}-${start + bytes.length - 1}/${total === null ? '*' : total}`;
    return send(env, context, sessionUri, range, bytes.length === 0 ? undefined : bytes);
  });
}

async function send(
  env: UploadEnv,
  context: FailureContext,
  sessionUri: string,
  contentRange: string,
  body: Buffer | undefined,
): Promise<PutOutcome> {
  const res = await env.http.request<string>({
    url: sessionUri,
    method: 'PUT',
    headers: { 'Content-Range': contentRange },
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

async function deleteDriveFile(env: UploadEnv, context: FailureContext, fileId: string): Promise<void> {
  const url = `${env.apiRoot}drive/v3/files/${encodeURIComponent(fileId)}?supportsAllDrives=true`;
  try {
    await env.pacer.run('files.delete', context, async () => {
      const res = await env.http.request<string>({
        url,
        method: 'DELETE',
        responseType: 'text',
        validateStatus: notUnauthorized,
        retry: false,
      });
      if (res.status >= 300 && res.status !== 404) throw requestFailure(res);
    });
  } catch (error) {
    // The admin still gets verification_failed; the stray copy is only logged.
    env.log.error('upload: could not remove the unverified file', {
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
