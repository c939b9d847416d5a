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
import { addItem, checkCreateMetadata, fileFields, sendFile } from './drive-endpoints.js';
import {
  badRequest,
  boolParam,
  DriveError,
  type Exchange,
  parseJsonObject,
  readAll,
  readJsonObject,
  readShaped,
  resetMidBody,
  sendBuffer,
} from './http-io.js';
import { type Caller, randomId, type SandboxCore, type UploadSession } from './sandbox-state.js';

export const CHUNK_GRANULARITY = 256 * 1024;
/** Google's limit for multipart uploads; bigger files must be resumable. */
export const MULTIPART_LIMIT = 5 * 1024 * 1024;

// --- multipart

function multipartBoundary(type: string): string {
  const m = /^multipart\/related\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(type);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw badRequest('badContent', `Unsupported content with type: ${type || '(none)'}`);
  return boundary;
}

interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

function parseMultipart(data: Buffer, boundary: string): Part[] {
  const bad = (): DriveError => badRequest('badContent', 'Malformed multipart body.');
  const delimiter = Buffer.from(`--${boundary}`);
  if (!data.subarray(0, delimiter.length).equals(delimiter)) throw bad();
  const parts: Part[] = [];
  let at = delimiter.length;
  for (;;) {
    if (data.subarray(at, at + 2).toString() === '--') return parts;
    if (data.subarray(at, at + 2).toString() !== '\r\n') throw bad();
    at += 2;
    const headerEnd = data.indexOf('\r\n\r\n', at);
    if (headerEnd < 0) throw bad();
    const headers: Record<string, string> = {};
    for (const line of data.subarray(at, headerEnd).toString('utf8').split('\r\n')) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon < 0) throw bad();
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = data.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) throw bad();
    parts.push({ headers, body: data.subarray(headerEnd + 4, next) });
    at = next + 2 + delimiter.length;
  }
}

export async function uploadMultipart(core: SandboxCore, ex: Exchange, caller: Caller): Promise<void> {
  const fields = fileFields(ex);
  const supportsAllDrives = boolParam(ex.url, 'supportsAllDrives');
  const boundary = multipartBoundary(ex.req.headers['content-type'] ?? '');
  const data = await readAll(ex, MULTIPART_LIMIT + 64 * 1024);
  core.state.requireWrite(caller);
  const parts = parseMultipart(data, boundary);
  if (parts.length !== 2)
    throw badRequest('badContent', 'A multipart upload has exactly two parts: metadata, then media.');
  const [metaPart, mediaPart] = parts as [Part, Part];
  if (!/^application\/json\b/i.test(metaPart.headers['content-type'] ?? '')) {
    throw badRequest('badContent', 'The first part of a multipart upload must be application/json metadata.');
  }
  const meta = checkCreateMetadata(
    core,
    caller,
    parseJsonObject(metaPart.body),
    supportsAllDrives,
    mediaPart.headers['content-type'] ?? 'application/octet-stream',
  );
  if (mediaPart.body.length > MULTIPART_LIMIT) {
    throw new DriveError(
      413,
      'uploadTooLarge',
      'Multipart uploads are limited to 5 MiB; use a resumable upload.',
    );
  }
  core.state.checkQuota(mediaPart.body.length, meta.parent.driveId);
  const partPath = core.store.partPath(randomId(16));
  const writer = await HashingWriter.create(partPath);
  await writer.write(mediaPart.body);
  await writer.close();
  const item = addItem(core, caller, meta, { size: writer.length, ...writer.digests() });
  await core.store.adopt(partPath, item.id);
  await sendFile(core, ex, item, caller, fields);
}

// --- resumable start

export async function uploadStart(core: SandboxCore, ex: Exchange, caller: Caller): Promise<void> {
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
  const meta = checkCreateMetadata(
    core,
    caller,
    body,
    supportsAllDrives,
    typeof declaredType === 'string' && declaredType ? declaredType : 'application/octet-stream',
  );
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
  core.state.sessions.set(id, session);
  const location = `${core.config.rootUrl}upload/drive/v3/files?uploadType=resumable&upload_id=${id}`;
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
    if (session.fileId) throw sessionGone();
    await dropSession(core, session);
    await sendBuffer(ex, 499, Buffer.alloc(0), { 'x-guploader-uploadid': session.id });
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

function answer308(ex: Exchange, session: UploadSession): Promise<void> {
  return sendBuffer(ex, 308, Buffer.alloc(0), {
    ...persistedRange(session),
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
  await writer.close();
  const parent = core.state.items.get(session.parentId);
  if (!parent) {
    await dropSession(core, session);
    throw new DriveError(404, 'notFound', `File not found: ${session.parentId}.`, { location: 'parents' });
  }
  const item = addItem(
    core,
    { ...caller, clientId: session.clientId },
    { name: session.name, mimeType: session.mimeType, parent },
    { size: writer.length, ...writer.digests() },
  );
  await core.store.adopt(writer.path, item.id);
  session.fileId = item.id;
  session.writer = null;
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
  const uploadId = ex.url.searchParams.get('upload_id');
  const session = uploadId ? core.state.sessions.get(uploadId) : undefined;
  if (!session || session.email !== caller.email || session.clientId !== caller.clientId) throw sessionGone();
  // One PUT at a time per session, in arrival order.
  const previous = session.lock;
  let release = (): void => {};
  session.lock = new Promise<void>((resolve) => {
    release = resolve;
  });
  await previous;
  try {
    await handlePut(core, ex, session, caller);
  } finally {
    release();
  }
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
