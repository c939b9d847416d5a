/**
 * Reading a slice of a Drive file into a local file: ranged GETs streamed to disk.
 *
 * Protocol: shared/reference/google-drive-facts.md, "Download". A slice up to one range
 * (config.downloadRangeSize) is one `GET ...?alt=media` with `Range: bytes=a-b`; a larger slice
 * is cut into equal ranges (sliceRanges) fetched by up to config.downloadStreams requests at
 * once, each written at its own offset with positional writes, so nothing is held in memory
 * beyond the pieces the sockets hand over. Each range retries through the Pacer; a connection lost mid-body resumes
 * from the bytes already written instead of starting the range again.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { GdriveBackupError, localFileError } from '../errors/errors.js';
import type { Log } from '../log.js';
import { type DriveHttp, type HttpOptions, notUnauthorized } from './drive-http.js';
import { mediaFetch } from './media-fetch.js';
import {
  DriveRequestError,
  type FailureContext,
  failureFromBody,
  failureFromError,
  type Pacer,
} from './retry.js';

export interface DownloadEnv {
  http: DriveHttp;
  pacer: Pacer;
  /** Base URL of Google's APIs, ending with '/'. */
  apiRoot: string;
  /** Ranged GETs in parallel for one slice. */
  streams: number;
  /** Bytes per ranged GET. */
  rangeSize: number;
  log: Log;
}

export interface SliceRequest {
  fileId: string;
  /** First byte of the slice in the Drive file. */
  start: number;
  /** One past the last byte; start <= end <= file size. */
  end: number;
  /** Opened for reading and writing (local-files.ts); byte `start` lands at offset 0. */
  target: FileHandle;
  /** The target's path, for messages. */
  localFile: string;
  context: FailureContext;
  /** Stops the slice early (a discarded read-ahead); it then rejects. */
  signal?: AbortSignal;
  /** Called with the length of every piece written, in the order pieces land (not file order). */
  onBytes?: (bytes: number) => void;
}

export interface SliceResult {
  /** GET requests made (retries and resumes included). */
  requests: number;
}

/**
 * Bytes of the slice [start, end) written into `localFile`. With `inOrder`, every byte is fed to
 * it in file order as soon as the ranges before it are complete (read back from the local file,
 * still in the page cache), so a whole-file read can be checked against Drive's md5.
 */
export async function downloadSlice(
  env: DownloadEnv,
  slice: SliceRequest,
  inOrder?: (bytes: Uint8Array) => void,
): Promise<SliceResult> {
  const handle = slice.target;
  const state: SliceState = {
    acknowledgeAbuse: false,
    requests: 0,
    failed: undefined as unknown,
    stop: new AbortController(),
  };
  if (inOrder !== undefined) state.order = { sink: inOrder, position: slice.start };
  const order = state.order;
  const onAbort = () => {
    if (state.failed === undefined) state.failed = stopped();
    state.stop.abort();
  };
  if (slice.signal?.aborted) onAbort();
  slice.signal?.addEventListener('abort', onAbort);
  try {
    const ranges = sliceRanges(slice.start, slice.end, env.rangeSize, env.streams);
    const complete = ranges.map(() => false);
    let fedRanges = 0;
    let feeding: Promise<void> = Promise.resolve();
    // Bytes of the range next in order were mostly hashed as they arrived (writeBody); the rest
    // of a completed range is read back from the local file, still in the page cache.
    const feed = async (): Promise<void> => {
      while (order && fedRanges < ranges.length && complete[fedRanges]) {
        const [, b] = ranges[fedRanges]!;
        await readBack(handle, slice, order, b);
        fedRanges++;
      }
    };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (state.failed === undefined && next < ranges.length) {
        const index = next++;
        const [a, b] = ranges[index]!;
        try {
          await fetchRange(env, slice, handle, a, b, state);
          complete[index] = true;
          // One feeder at a time, in range order.
          feeding = feeding.then(feed);
          await feeding;
        } catch (error) {
          if (state.failed === undefined) {
            state.failed = error;
            state.stop.abort();
          }
        }
      }
    };
    const workers = Math.max(1, Math.min(env.streams, ranges.length));
    await Promise.all(Array.from({ length: workers }, worker));
    if (state.failed !== undefined) throw state.failed;
    return { requests: state.requests };
  } finally {
    slice.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * [start, end) cut into ranges of at most `rangeSize` bytes: one range when it fits, else a
 * multiple of `streams` ranges of equal length, so each stream gets the same share and none
 * sits idle while another fetches the last long range. (A 100 MiB piece in plain 16 MiB ranges
 * over 4 streams is 7 ranges, 4 + 3: the second round runs a stream short, and its last range
 * is a quarter of the others; as 8 ranges of 12.5 MiB both rounds run 4 streams to the end.)
 */
export function sliceRanges(
  start: number,
  end: number,
  rangeSize: number,
  streams: number,
): Array<[number, number]> {
  const length = end - start;
  if (length <= 0) return [];
  let count = Math.ceil(length / rangeSize);
  if (count > 1) count = Math.ceil(count / streams) * streams;
  const each = Math.ceil(length / count);
  const ranges: Array<[number, number]> = [];
  for (let a = start; a < end; a += each) ranges.push([a, Math.min(a + each, end)]);
  return ranges;
}

/** Feeds `order` the local file's bytes from its position up to the file offset `b`. */
async function readBack(
  handle: FileHandle,
  slice: SliceRequest,
  order: InOrderFeed,
  b: number,
): Promise<void> {
  if (order.position >= b) return;
  const piece = Buffer.allocUnsafe(Math.min(b - order.position, 1024 * 1024));
  while (order.position < b) {
    const want = Math.min(piece.length, b - order.position);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(piece, 0, want, order.position - slice.start));
    } catch (error) {
      throw localFileError(slice.localFile, error);
    }
    if (bytesRead === 0)
      throw new GdriveBackupError('internal', { detail: 'the local file shrank while being written' });
    order.sink(piece.subarray(0, bytesRead));
    order.position += bytesRead;
  }
}

interface SliceState {
  acknowledgeAbuse: boolean;
  requests: number;
  failed: unknown;
  stop: AbortController;
  order?: InOrderFeed;
}

/** The in-order consumer of a slice's bytes and the file offset it has seen every byte up to. */
interface InOrderFeed {
  sink: (bytes: Uint8Array) => void;
  position: number;
}

/**
 * Fetches [a, b) of the Drive file into the local file. Each Pacer run makes one GET from the
 * first byte still missing; when the body breaks after some bytes arrived, the next run starts
 * from there with a fresh attempt count (progress is not a failure streak).
 */
async function fetchRange(
  env: DownloadEnv,
  slice: SliceRequest,
  handle: FileHandle,
  a: number,
  b: number,
  state: SliceState,
): Promise<void> {
  const cursor = { at: a };
  while (cursor.at < b) {
    await env.pacer.run('files.download', { ...slice.context, localFile: slice.localFile }, async () => {
      const before = cursor.at;
      try {
        await getInto(env, slice, handle, cursor, b, state);
      } catch (error) {
        if (state.stop.signal.aborted) throw stopped();
        // A broken body after progress: resume at once from the new position.
        if (cursor.at > before && failureFromError(error) !== undefined) return;
        throw error;
      }
    });
  }
}

/** One GET of [cursor.at, b); the cursor follows the bytes written. */
async function getInto(
  env: DownloadEnv,
  slice: SliceRequest,
  handle: FileHandle,
  cursor: { at: number },
  b: number,
  state: SliceState,
): Promise<void> {
  const from = cursor.at;
  const base = `${env.apiRoot}drive/v3/files/${encodeURIComponent(slice.fileId)}?alt=media&supportsAllDrives=true`;
  for (;;) {
    state.requests++;
    const acknowledged = state.acknowledgeAbuse;
    const res = await env.http.request<AsyncIterable<Uint8Array>>({
      url: acknowledged ? `${base}&acknowledgeAbuse=true` : base,
      method: 'GET',
      headers: { Range: `bytes=${from}-${b - 1}` },
      responseType: 'stream',
      // node:http straight through, without node-fetch's extra stream (media-fetch.ts); gaxios
      // types this as the WHATWG fetch, of which it uses the part MediaResponse has.
      fetchImplementation: mediaFetch as unknown as NonNullable<HttpOptions['fetchImplementation']>,
      validateStatus: notUnauthorized,
      retry: false,
      signal: state.stop.signal,
    });
    if (res.status === 206 || (res.status === 200 && from === 0)) {
      if (res.status === 206) checkContentRange(res.headers.get('content-range'), from);
      return await writeBody(res.data, handle, slice, cursor, b, state.order);
    }
    if (res.status >= 200 && res.status < 300) {
      // A success that is not the asked range (e.g. a 200 with the whole file): stop it.
      await cancelBody(res.data);
      throw new GdriveBackupError('drive_error', { detail: `Drive answered ${res.status} to a ranged read` });
    }
    const text = await readSmall(res.data);
    const failure = failureFromBody(res.status, text, res.headers.get('retry-after'));
    if (res.status === 403 && failure.reason === 'cannotDownloadAbusiveFile' && !acknowledged) {
      // Drive flags some large files; the owner may still download them when acknowledging it.
      state.acknowledgeAbuse = true;
      continue;
    }
    if (res.status === 416)
      throw new GdriveBackupError('drive_error', {
        detail: `Drive has fewer bytes of "${slice.context.path ?? ''}" than expected`,
      });
    throw new DriveRequestError(failure);
  }
}

function checkContentRange(header: string | null, from: number): void {
  const match = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!match || Number(match[1]) !== from)
    throw new GdriveBackupError('drive_error', { detail: `unexpected Content-Range "${header ?? ''}"` });
}

/** Bytes of a response gathered before one write: 16 socket reads become one writev. */
const WRITE_BATCH = 1024 * 1024;

/**
 * Streams the body to the local file at its offset, advancing the cursor batch by batch (the
 * cursor counts bytes written, so a resume never skips any); bytes next in file order go to
 * `order` straight away instead of being read back later.
 */
async function writeBody(
  body: AsyncIterable<Uint8Array>,
  handle: FileHandle,
  slice: SliceRequest,
  cursor: { at: number },
  b: number,
  order: InOrderFeed | undefined,
): Promise<void> {
  let batch: Uint8Array[] = [];
  let batched = 0;
  const flush = async (): Promise<void> => {
    if (batched === 0) return;
    const at = cursor.at;
    await writeAll(handle, slice.localFile, batch, batched, at - slice.start);
    cursor.at += batched;
    slice.onBytes?.(batched);
    if (order !== undefined && order.position === at) {
      for (const piece of batch) order.sink(piece);
      order.position = cursor.at;
    }
    batch = [];
    batched = 0;
  };
  const take = (value: Uint8Array): void => {
    const room = b - cursor.at - batched;
    batch.push(value.length > room ? value.subarray(0, room) : value);
    batched += Math.min(value.length, room);
  };
  if (body instanceof Readable) {
    await writeStream(body, b, cursor, () => batched, take, flush);
  } else {
    const iterator = body[Symbol.asyncIterator]();
    try {
      while (cursor.at + batched < b) {
        const { value, done } = await iterator.next();
        if (done) break;
        take(value);
        if (batched >= WRITE_BATCH) await flush();
      }
    } finally {
      // What arrived before a broken body is good: keep it, so the resume starts after it.
      await flush();
      // Stops the transfer when we have what we asked for (a 200 carries the whole file).
      await iterator.return?.();
    }
  }
  if (cursor.at < b)
    throw new DriveRequestError({ networkCode: 'ECONNRESET', message: 'the response ended early' });
}

/**
 * The body of a node:http response (media-fetch.ts) gathered batch by batch from its 'data'
 * events: the task wakes once per batch instead of once per socket read (an async iterator
 * costs a promise per chunk, and TLS hands over 16 KiB records). The stream is paused while a
 * full batch is written, so no more than a batch and the socket's buffer are held.
 */
async function writeStream(
  stream: Readable,
  b: number,
  cursor: { at: number },
  batched: () => number,
  take: (value: Uint8Array) => void,
  flush: () => Promise<void>,
): Promise<void> {
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const full = () => cursor.at + batched() >= b || batched() >= WRITE_BATCH;
  const onData = (chunk: Uint8Array) => {
    if (cursor.at + batched() >= b) return;
    take(chunk);
    if (full()) {
      stream.pause();
      wake?.();
    }
  };
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onError = (error: unknown) => {
    failure ??= error;
    wake?.();
  };
  stream.on('data', onData);
  stream.once('end', onEnd);
  // A body cut short (reset, abort) closes without 'end': the check after the loop reports it.
  stream.once('close', onEnd);
  stream.on('error', onError);
  try {
    for (;;) {
      if (!full() && !ended && failure === undefined)
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      wake = undefined;
      if (failure !== undefined && !full()) throw failure;
      if (batched() > 0) await flush();
      if (cursor.at >= b || ended || failure !== undefined) break;
      stream.resume();
    }
    if (failure !== undefined && cursor.at < b) throw failure;
  } finally {
    // What arrived before a broken body is good: keep it, so the resume starts after it.
    await flush();
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onEnd);
    // Stops the transfer when we have what we asked for (a 200 carries the whole file); a late
    // error of the destroyed stream has nobody left to hear it.
    if (!stream.readableEnded) stream.destroy();
  }
}

/** Writes `length` bytes of `pieces` at `at`, in one writev unless the kernel takes less. */
async function writeAll(
  handle: FileHandle,
  path: string,
  pieces: Uint8Array[],
  length: number,
  at: number,
): Promise<void> {
  try {
    let { bytesWritten: written } = await handle.writev(pieces, at);
    if (written === length) return;
    const all = Buffer.concat(pieces, length);
    while (written < length)
      written += (await handle.write(all, written, length - written, at + written)).bytesWritten;
  } catch (error) {
    // The disk, not Drive: final, with the path and the cause.
    throw localFileError(path, error);
  }
}

async function cancelBody(body: unknown): Promise<void> {
  const iterable = body as AsyncIterable<Uint8Array> | null;
  if (iterable && typeof iterable[Symbol.asyncIterator] === 'function')
    await iterable[Symbol.asyncIterator]().return?.();
}

async function readSmall(body: unknown): Promise<string> {
  if (typeof body === 'string') return body;
  if (!body || typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function') return '';
  const pieces: Buffer[] = [];
  let length = 0;
  for await (const piece of body as AsyncIterable<Uint8Array>) {
    if (length < 64 * 1024) pieces.push(Buffer.from(piece));
    length += piece.length;
  }
  return Buffer.concat(pieces).toString('utf8');
}

function stopped(): GdriveBackupError {
  // Never surfaced: the first range's failure is what the caller sees.
  return new GdriveBackupError('internal', { detail: 'range stopped after another range failed' });
}
