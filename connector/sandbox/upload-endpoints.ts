/**
 * Uploads exactly as Google documents them: multipart/related (metadata + media in one
 * request) and the resumable protocol (start -> chunk PUTs answered 308 with the PERSISTED
 * range -> final 200 with the file resource in the session's `fields`).
 *
 * The odd rules are the point of this module, because clients get them wrong:
 *  - every chunk but the last is a multiple of 256 KiB, or 400 and nothing of it is kept;
 *  - `Content-Length` equals the range's length; a chunk must start exactly at what is
 *    persisted: a gap is 400, and so is an overlap (see `overlapRefused` for why);
 *  - 308's `Range: bytes=0-N` is what is persisted, which may be less than was sent (the
 *    short308 fault), and is absent while nothing is;
 *  - an empty PUT with `bytes *\/*` (or `*\/total`) asks for the status;
 *  - DELETE on the session URI cancels the upload (499), as Google's Cloud Storage documents.
 */
import { rm } from 'node:fs/promises';
import { HashingWriter } from './content-store.js';
import {
  addItem,
  checkCreateMetadata,
  fileFields,
  type NewItemMetadata,
  prepareUpdate,
  sendFile,
} from './drive-endpoints.js';
import {
  badRequest,
  boolParam,
  DriveError,
  type Exchange,
  parseJsonObject,
  readJsonObject,
  readShaped,
  resetMidBody,
  sendBuffer,
} from './http-io.js';
import {
  type Caller,
  FOLDER_MIME,
  randomId,
  type SandboxCore,
  type StoredItem,
  type UploadSession,
} from './sandbox-state.js';

export const CHUNK_GRANULARITY = 256 * 1024;
/** The metadata part of a multipart upload, and the part headers, must fit in this. */
const MULTIPART_HEAD_LIMIT = 1024 * 1024;

/**
 * Where new content goes: a new file (`POST upload/drive/v3/files`) or an existing one whose
 * content is replaced (`PATCH upload/drive/v3/files/{id}`, Drive v3 files.update with media;
 * rclone overwrites files this way, backend/drive/drive.go `Object.Update`).
 */
export type UploadTarget = { kind: 'create' } | { kind: 'update'; id: string };

type Destination = { create: NewItemMetadata } | { update: StoredItem; apply: () => void };

/** Where a single-request upload's bytes go: new content for `existing`, or a new file. */
function destinationOf(
  core: SandboxCore,
  ex: Exchange,
  caller: Caller,
  existing: StoredItem | null,
  body: Record<string, unknown>,
  supportsAllDrives: boolean,
  mediaType: string,
): Destination {
  return existing
    ? {
        update: existing,
        apply: prepareUpdate(core, ex.url.searchParams, caller, existing, body, supportsAllDrives),
      }
    : { create: checkCreateMetadata(core, caller, body, supportsAllDrives, mediaType) };
}

/**
 * 403 storageQuotaExceeded, and the part file gone, when a single-request upload's bytes do
 * not fit (a resumable upload is checked chunk by chunk instead).
 */
async function checkQuotaFor(core: SandboxCore, writer: HashingWriter, into: Destination): Promise<void> {
  await writer.close();
  const driveId = 'create' in into ? into.create.parent.driveId : into.update.driveId;
  const previous = 'update' in into ? into.update.size : 0;
  try {
    core.state.checkQuota(writer.length - previous, driveId);
  } catch (error) {
    await rm(writer.path, { force: true });
    throw error;
  }
}

/** Stores bytes that arrived in a part file as the destination's content. */
async function commit(
  core: SandboxCore,
  caller: Caller,
  writer: HashingWriter,
  into: Destination,
): Promise<StoredItem> {
  await writer.close();
  const content = { size: writer.length, ...writer.digests() };
  let item: StoredItem;
  if ('create' in into) {
    item = addItem(core, caller, into.create, content);
  } else {
    item = into.update;
    into.apply();
    item.size = content.size;
    item.md5 = content.md5;
    item.sha256 = content.sha256;
  }
  await core.store.adopt(writer.path, item.id);
  return item;
}

/** The file a content update replaces, checked like files.update: visible, writable, not a folder. */
function updateTarget(core: SandboxCore, caller: Caller, id: string, supportsAllDrives: boolean): StoredItem {
  const item = core.state.findItem(caller, id, supportsAllDrives);
  core.state.requireWrite(caller);
  if (item.mimeType === FOLDER_MIME || item.isRoot) {
    throw badRequest('invalid', 'A folder has no content to replace.');
  }
  return item;
}

// --- multipart

function multipartBoundary(type: string): string {
  const m = /^multipart\/related\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(type);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw badRequest('badContent', `Unsupported content with type: ${type || '(none)'}`);
  return boundary;
}

function partHeaders(text: string, bad: () => DriveError): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw bad();
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * A multipart/related body read as a stream: the metadata part whole, the media part straight
 * into a part file, so its size is not limited by memory. Google documents multipart for
 * "small files" (5 MB or less) as advice, not a limit: its Node client sends whole files this
 * way and rclone sends up to its 8 MiB upload cutoff (any size with --drive-upload-cutoff).
 * `open` sees the metadata and the media part's headers before any media byte is written.
 */
async function receiveMultipart(
  ex: Exchange,
  boundary: string,
  open: (metadata: Buffer, mediaHeaders: Record<string, string>) => Promise<HashingWriter>,
): Promise<HashingWriter> {
  const bad = (): DriveError => badRequest('badContent', 'Malformed multipart body.');
  const twoParts = (): DriveError =>
    badRequest('badContent', 'A multipart upload has exactly two parts: metadata, then media.');
  const delimiter = Buffer.from(`--${boundary}`);
  const inner = Buffer.from(`\r\n--${boundary}`);
  let head = Buffer.alloc(0);
  let writer: HashingWriter | null = null;
  let tail = Buffer.alloc(0);
  let trailer: Buffer | null = null;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (!writer || pendingBytes === 0) return;
    const batch = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await writer.write(batch);
  };
  const media = async (data: Buffer): Promise<void> => {
    if (trailer) {
      trailer = Buffer.concat([trailer, data]);
      return;
    }
    const joined = tail.length > 0 ? Buffer.concat([tail, data]) : data;
    const end = joined.indexOf(inner);
    if (end >= 0) {
      pending.push(joined.subarray(0, end));
      pendingBytes += end;
      trailer = joined.subarray(end + inner.length);
      tail = Buffer.alloc(0);
    } else {
      const keep = Math.min(joined.length, inner.length - 1);
      pending.push(joined.subarray(0, joined.length - keep));
      pendingBytes += joined.length - keep;
      tail = Buffer.from(joined.subarray(joined.length - keep));
    }
    if (pendingBytes >= 1024 * 1024) await flush();
  };
  const take = async (chunk: Buffer): Promise<void> => {
    if (writer) return media(chunk);
    head = Buffer.concat([head, chunk]);
    // delimiter CRLF headers CRLF CRLF metadata CRLF delimiter CRLF headers CRLF CRLF media...
    if (head.length >= delimiter.length && !head.subarray(0, delimiter.length).equals(delimiter)) throw bad();
    const metaHeadersEnd = head.indexOf('\r\n\r\n', delimiter.length);
    const metaEnd = metaHeadersEnd < 0 ? -1 : head.indexOf(inner, metaHeadersEnd + 4);
    const mediaHeadersEnd = metaEnd < 0 ? -1 : head.indexOf('\r\n\r\n', metaEnd + inner.length);
    if (mediaHeadersEnd < 0) {
      if (head.length > MULTIPART_HEAD_LIMIT) throw bad();
      return;
    }
    if (head.subarray(delimiter.length, delimiter.length + 2).toString() !== '\r\n') throw bad();
    const metaHeaders = partHeaders(
      head.subarray(delimiter.length + 2, metaHeadersEnd).toString('utf8'),
      bad,
    );
    if (!/^application\/json\b/i.test(metaHeaders['content-type'] ?? '')) {
      throw badRequest(
        'badContent',
        'The first part of a multipart upload must be application/json metadata.',
      );
    }
    const afterMeta = metaEnd + inner.length;
    const marker = head.subarray(afterMeta, afterMeta + 2).toString();
    if (marker === '--') throw twoParts();
    if (marker !== '\r\n') throw bad();
    const mediaHeaders = partHeaders(head.subarray(afterMeta + 2, mediaHeadersEnd).toString('utf8'), bad);
    writer = await open(head.subarray(metaHeadersEnd + 4, metaEnd), mediaHeaders);
    await media(head.subarray(mediaHeadersEnd + 4));
  };
  try {
    // A refusal is answered after the whole body was read: leaving the loop early would reset
    // the connection instead of answering.
    let refused: unknown = null;
    for await (const chunk of readShaped(ex)) {
      if (refused) continue;
      try {
        await take(chunk);
      } catch (error) {
        refused = error;
      }
    }
    if (refused) throw refused;
    if (!writer) throw bad();
    // What follows the media part: the closing `--` (and optional CRLF/epilogue), never a third part.
    const rest = trailer as Buffer | null;
    if (!rest) throw bad();
    if (rest.subarray(0, 2).toString() !== '--') {
      throw rest.subarray(0, 2).toString() === '\r\n' ? twoParts() : bad();
    }
    await flush();
    return writer;
  } catch (error) {
    // Assigned inside `take`, which TypeScript's narrowing does not follow.
    const opened = writer as HashingWriter | null;
    if (opened) {
      await opened.close();
      await rm(opened.path, { force: true });
    }
    throw error;
  }
}

export async function uploadMultipart(
  core: SandboxCore,
  ex: Exchange,
  caller: Caller,
  target: UploadTarget,
): Promise<void> {
  const fields = fileFields(ex);
  const supportsAllDrives = boolParam(ex.url, 'supportsAllDrives');
  const boundary = multipartBoundary(ex.req.headers['content-type'] ?? '');
  const existing = target.kind === 'update' ? updateTarget(core, caller, target.id, supportsAllDrives) : null;
  core.state.requireWrite(caller);
  let into: Destination | null = null;
  const writer = await receiveMultipart(ex, boundary, async (metadata, mediaHeaders) => {
    const body = parseJsonObject(metadata);
    const mediaType = mediaHeaders['content-type'] ?? 'application/octet-stream';
    into = destinationOf(core, ex, caller, existing, body, supportsAllDrives, mediaType);
    return HashingWriter.create(core.store.partPath(randomId(16)));
  });
  await checkQuotaFor(core, writer, into!);
  await sendFile(core, ex, await commit(core, caller, writer, into!), caller, fields);
}

// --- media (content only: a new file named Untitled, or new content for an existing one)

export async function uploadMedia(
  core: SandboxCore,
  ex: Exchange,
  caller: Caller,
  target: UploadTarget,
): Promise<void> {
  const fields = fileFields(ex);
  const supportsAllDrives = boolParam(ex.url, 'supportsAllDrives');
  const type = ex.req.headers['content-type'] || 'application/octet-stream';
  const existing = target.kind === 'update' ? updateTarget(core, caller, target.id, supportsAllDrives) : null;
  const into = destinationOf(core, ex, caller, existing, {}, supportsAllDrives, type);
  core.state.requireWrite(caller);
  const writer = await HashingWriter.create(core.store.partPath(randomId(16)));
  try {
    for await (const chunk of readShaped(ex)) await writer.write(chunk);
  } catch (error) {
    await writer.close();
    await rm(writer.path, { force: true });
    throw error;
  }
  await checkQuotaFor(core, writer, into);
  await sendFile(core, ex, await commit(core, caller, writer, into), caller, fields);
}

// --- resumable start

export async function uploadStart(
  core: SandboxCore,
  ex: Exchange,
  caller: Caller,
  target: UploadTarget,
): Promise<void> {
  const fields = fileFields(ex);
  const supportsAllDrives = boolParam(ex.url, 'supportsAllDrives');
  const body = await readJsonObject(ex);
  core.state.requireWrite(caller);
  const lengthHeader = ex.req.headers['x-upload-content-length'];
  let declaredLength: number | undefined;
  if (lengthHeader !== undefined) {
    if (!/^\d+$/.test(String(lengthHeader))) {
      throw badRequest('invalid', 'Invalid X-Upload-Content-Length header.', 'X-Upload-Content-Length');
    }
    declaredLength = Number(lengthHeader);
  }
  const declaredType = ex.req.headers['x-upload-content-type'];
  const mediaType =
    typeof declaredType === 'string' && declaredType ? declaredType : 'application/octet-stream';
  let meta: NewItemMetadata;
  let update: UploadSession['target'];
  if (target.kind === 'update') {
    const existing = updateTarget(core, caller, target.id, supportsAllDrives);
    prepareUpdate(core, ex.url.searchParams, caller, existing, body, supportsAllDrives);
    const parent = core.state.items.get(existing.parents[0] ?? '') ?? existing;
    meta = { name: existing.name, mimeType: existing.mimeType, parent };
    update = { id: existing.id, body, params: ex.url.searchParams.toString() };
  } else {
    meta = checkCreateMetadata(core, caller, body, supportsAllDrives, mediaType);
  }
  if (declaredLength !== undefined) core.state.checkQuota(declaredLength, meta.parent.driveId);
  const id = randomId(32);
  const session: UploadSession = {
    id,
    email: caller.email,
    clientId: caller.clientId,
    access: caller.access,
    name: meta.name,
    mimeType: meta.mimeType,
    parentId: meta.parent.id,
    fields,
    supportsAllDrives,
    writer: await HashingWriter.create(core.store.partPath(id)),
    expiresAt: Date.now() + core.config.sessionLifetimeSec * 1000,
    lock: Promise.resolve(),
  };
  if (meta.parent.driveId) session.driveId = meta.parent.driveId;
  if (declaredLength !== undefined) session.declaredLength = declaredLength;
  if (meta.modifiedTime) session.modifiedTime = meta.modifiedTime;
  if (update) session.target = update;
  core.state.sessions.set(id, session);
  // The session URI is on the client's own view of the API (publicUrl), as Google's is on
  // www.googleapis.com; an update session keeps the file's path, as Google's does.
  const path = update ? `upload/drive/v3/files/${encodeURIComponent(update.id)}` : 'upload/drive/v3/files';
  const location = `${core.config.publicUrl}${path}?uploadType=resumable&upload_id=${id}`;
  await sendBuffer(ex, 200, Buffer.alloc(0), { location, 'x-guploader-uploadid': id });
}

// --- resumable PUTs

type ContentRange =
  | { kind: 'status'; total: number | null }
  | { kind: 'bytes'; first: number; last: number; total: number | null };

export function parseContentRange(header: string | undefined, contentLength: number): ContentRange {
  if (header === undefined) {
    // No Content-Range: the whole file in this one request.
    return contentLength === 0
      ? { kind: 'status', total: 0 }
      : { kind: 'bytes', first: 0, last: contentLength - 1, total: contentLength };
  }
  const status = /^bytes \*\/(\d+|\*)$/.exec(header.trim());
  if (status) return { kind: 'status', total: status[1] === '*' ? null : Number(status[1]) };
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim());
  if (!m) throw badRequest('invalid', `Invalid Content-Range header: ${header}`, 'Content-Range');
  return {
    kind: 'bytes',
    first: Number(m[1]),
    last: Number(m[2]),
    total: m[3] === '*' ? null : Number(m[3]),
  };
}

/** Classifies a PUT on a session for counters and faults: a body-less `bytes *\/...` is a status query. */
export function putKind(headers: Exchange['req']['headers']): 'upload.chunk' | 'upload.status' {
  const length = Number(headers['content-length'] ?? 0);
  const range = headers['content-range'];
  if (length === 0 && range !== undefined && /^bytes \*\/(\*|[1-9]\d*)$/.test(range.trim()))
    return 'upload.status';
  return 'upload.chunk';
}

/**
 * A chunk that starts before the persisted end. Google documents no behaviour for it: its
 * resumable-upload pages (Drive's "Resume an interrupted upload", Cloud Storage's "Performing
 * resumable uploads") only ever send the bytes after the `Range` the status query answers, and
 * Google's own clients do the same (nodejs-storage's resumable-upload.ts asks the offset and
 * continues from it, keeping its last chunk only to resend what was not persisted; rclone's
 * drive backend sends each chunk once from the offset it tracks). What Drive does with an
 * overlap is thus unspecified; the sandbox refuses it with 400, so a client that relies on an
 * overlap being skipped fails here rather than on Drive. (Its gap answer, 400 "Range starts at
 * ...", follows Drive's documented "exceeds already uploaded size" refusal.)
 */
function overlapRefused(first: number, persisted: number): DriveError {
  return badRequest(
    'invalid',
    `Range starts at ${first} but ${persisted} bytes are persisted already: send from byte ${persisted}.`,
  );
}

/** DELETE on a session URI: the upload is cancelled, its bytes dropped (Google answers 499). */
export async function uploadCancel(core: SandboxCore, ex: Exchange, caller: Caller): Promise<void> {
  await withSession(core, ex, caller, async (session) => {
    if (session.fileId) throw sessionGone();
    await dropSession(core, session);
    await sendBuffer(ex, 499, Buffer.alloc(0), { 'x-guploader-uploadid': session.id });
  });
}

/**
 * Runs `fn` on the caller's session of the request's upload_id, one request at a time per
 * session in arrival order; 404 for an unknown session or another caller's.
 */
async function withSession(
  core: SandboxCore,
  ex: Exchange,
  caller: Caller,
  fn: (session: UploadSession) => Promise<void>,
): Promise<void> {
  const uploadId = ex.url.searchParams.get('upload_id');
  const session = uploadId ? core.state.sessions.get(uploadId) : undefined;
  if (!session || session.email !== caller.email || session.clientId !== caller.clientId) throw sessionGone();
  const previous = session.lock;
  let release = (): void => {};
  session.lock = new Promise<void>((resolve) => {
    release = resolve;
  });
  await previous;
  try {
    await fn(session);
  } finally {
    release();
  }
}

function sessionGone(): DriveError {
  return new DriveError(404, 'notFound', 'The upload session was not found or has expired.', {
    location: 'upload_id',
    locationType: 'parameter',
  });
}

async function dropSession(core: SandboxCore, session: UploadSession): Promise<void> {
  core.state.sessions.delete(session.id);
  await session.writer?.close();
  session.writer = null;
  if (!session.fileId) await rm(core.store.partPath(session.id), { force: true });
}

/** Ends a session now (the `expire` fault, or a test). */
export async function expireSession(core: SandboxCore, uploadId: string | null): Promise<void> {
  const session = uploadId ? core.state.sessions.get(uploadId) : undefined;
  if (session) session.expiresAt = 0;
}

function persistedRange(session: UploadSession): Record<string, string> {
  const n = session.writer?.length ?? 0;
  return n > 0 ? { range: `bytes=0-${n - 1}` } : {};
}

/**
 * 308 Resume Incomplete; or, when the client sent `X-GUploader-No-308: yes`, 200 with
 * `X-HTTP-Status-Code-Override: 308`, as Google's upload servers do for clients whose HTTP
 * stack treats 308 as a redirect (google-api-go-client internal/gensupport/resumable.go).
 */
function answer308(ex: Exchange, session: UploadSession): Promise<void> {
  const no308 = String(ex.req.headers['x-guploader-no-308'] ?? '').toLowerCase() === 'yes';
  return sendBuffer(ex, no308 ? 200 : 308, Buffer.alloc(0), {
    ...persistedRange(session),
    ...(no308 ? { 'x-http-status-code-override': '308' } : {}),
    'x-guploader-uploadid': session.id,
  });
}

async function finish(
  core: SandboxCore,
  ex: Exchange,
  session: UploadSession,
  caller: Caller,
): Promise<void> {
  const writer = session.writer!;
  const owner = { ...caller, clientId: session.clientId };
  let into: Destination;
  try {
    if (session.target) {
      const existing = updateTarget(core, owner, session.target.id, session.supportsAllDrives);
      const params = new URLSearchParams(session.target.params);
      into = {
        update: existing,
        apply: prepareUpdate(core, params, owner, existing, session.target.body, session.supportsAllDrives),
      };
    } else {
      const parent = core.state.items.get(session.parentId);
      if (!parent) {
        throw new DriveError(404, 'notFound', `File not found: ${session.parentId}.`, {
          location: 'parents',
        });
      }
      const create: NewItemMetadata = { name: session.name, mimeType: session.mimeType, parent };
      if (session.modifiedTime) create.modifiedTime = session.modifiedTime;
      into = { create };
    }
  } catch (error) {
    await dropSession(core, session);
    throw error;
  }
  session.writer = null;
  try {
    session.fileId = (await commit(core, owner, writer, into)).id;
  } catch (error) {
    await dropSession(core, session);
    throw error;
  }
  await sendDone(core, ex, session, caller);
}

async function sendDone(
  core: SandboxCore,
  ex: Exchange,
  session: UploadSession,
  caller: Caller,
): Promise<void> {
  const item = core.state.items.get(session.fileId!);
  if (!item) throw sessionGone();
  await sendFile(core, ex, item, caller, session.fields);
}

export async function uploadPut(core: SandboxCore, ex: Exchange, caller: Caller): Promise<void> {
  await withSession(core, ex, caller, (session) => handlePut(core, ex, session, caller));
}

async function handlePut(
  core: SandboxCore,
  ex: Exchange,
  session: UploadSession,
  caller: Caller,
): Promise<void> {
  if (session.expiresAt <= Date.now()) {
    await dropSession(core, session);
    throw sessionGone();
  }
  if (session.fileId) return sendDone(core, ex, session, caller);
  const writer = session.writer!;
  const lengthHeader = ex.req.headers['content-length'];
  if (lengthHeader === undefined) {
    throw new DriveError(411, 'lengthRequired', 'Content-Length is required on upload requests.');
  }
  const contentLength = Number(lengthHeader);
  const range = parseContentRange(ex.req.headers['content-range'], contentLength);
  const total = range.total;
  if (total !== null) {
    if (session.declaredLength !== undefined && total !== session.declaredLength) {
      throw badRequest(
        'invalid',
        `Total ${total} disagrees with X-Upload-Content-Length ${session.declaredLength}.`,
      );
    }
    if (session.total !== undefined && total !== session.total) {
      throw badRequest('invalid', `Total ${total} disagrees with the total ${session.total} named before.`);
    }
  }

  if (range.kind === 'status') {
    if (contentLength !== 0) throw badRequest('invalid', 'A status query (bytes */...) has an empty body.');
    if (total === null) return answer308(ex, session);
    if (writer.length > total)
      throw badRequest('invalid', `Total ${total} is less than the ${writer.length} bytes received.`);
    session.total = total;
    if (writer.length === total) return finish(core, ex, session, caller);
    return answer308(ex, session);
  }

  const { first, last } = range;
  const length = last - first + 1;
  if (last < first) throw badRequest('invalid', `Invalid Content-Range: ${first}-${last}.`);
  if (total !== null && last >= total)
    throw badRequest('invalid', `Range end ${last} is beyond the total ${total}.`);
  if (session.declaredLength !== undefined && last >= session.declaredLength) {
    throw badRequest(
      'invalid',
      `Range end ${last} is beyond X-Upload-Content-Length ${session.declaredLength}.`,
    );
  }
  if (contentLength !== length) {
    throw badRequest(
      'invalid',
      `Content-Length ${contentLength} does not match Content-Range length ${length}.`,
    );
  }
  if (first > writer.length) {
    throw badRequest('invalid', `Range starts at ${first} but only ${writer.length} bytes are persisted.`);
  }
  if (first < writer.length) throw overlapRefused(first, writer.length);
  const final = total !== null && last === total - 1;
  if (!final && length % CHUNK_GRANULARITY !== 0) {
    throw badRequest(
      'invalid',
      `A non-final chunk must be a multiple of 262144 bytes; this one has ${length}.`,
    );
  }
  core.state.checkQuota(last + 1 - writer.length, session.driveId);

  if (ex.fault === 'reset') return resetMidBody(ex);
  // short308 keeps only up to the last 256 KiB boundary strictly below the end of what was sent.
  const keepEnd =
    ex.fault === 'short308' ? Math.floor(last / CHUNK_GRANULARITY) * CHUNK_GRANULARITY : last + 1;

  // Writes are batched (about 1 MiB) because one small write per socket read halves throughput.
  let position = first;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await writer.write(batch);
  };
  try {
    for await (const chunk of readShaped(ex)) {
      const chunkStart = position;
      position += chunk.length;
      const from = Math.max(writer.length + pendingBytes, chunkStart);
      const to = Math.min(position, keepEnd);
      if (to > from) {
        pending.push(chunk.subarray(from - chunkStart, to - chunkStart));
        pendingBytes += to - from;
        if (pendingBytes >= 1024 * 1024) await flush();
      }
    }
  } finally {
    // What arrived before a client vanished is persisted, as Google may do.
    await flush();
  }
  if (position !== last + 1) throw badRequest('invalid', 'The body ended before the announced length.');
  if (total !== null) session.total = total;
  if (final && writer.length === total) return finish(core, ex, session, caller);
  return answer308(ex, session);
}
