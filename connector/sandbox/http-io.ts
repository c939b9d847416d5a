/**
 * One request/answer pair of the sandbox (`Exchange`) and the wire helpers every endpoint uses:
 * Google's JSON error shape, shaped body reading and writing. Bodies are read as a stream so
 * an upload chunk never has to sit whole in memory.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultKind, RequestKind } from './faults.js';
import type { ConnectionShaper } from './shaping.js';

export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly kind: RequestKind;
  readonly shaper: ConnectionShaper;
  /** Kept apart: IncomingMessage drops its socket reference once destroyed. */
  readonly socket: Socket;
  /** The fault chosen for this request, for handlers that act it out themselves (reset, short308). */
  fault: FaultKind | null;
  /** Server time before the answer (the Drive-like link's per-request time on uploads). */
  answerDelayMs?: number;
}

/** An error answered in Drive's shape: `{error: {code, message, errors: [{domain, reason, message}]}}`. */
export class DriveError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly options: {
      domain?: string;
      location?: string;
      locationType?: string;
      statusText?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
  }
}

/** An error answered in OAuth's shape: `{error, error_description}`. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

export const notFound = (what: string, id: string, location = 'fileId'): DriveError =>
  new DriveError(404, 'notFound', `${what} not found: ${id}.`, { location, locationType: 'parameter' });

export const badRequest = (reason: string, message: string, location?: string): DriveError =>
  new DriveError(400, reason, message, location ? { location, locationType: 'parameter' } : {});

const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  416: 'OUT_OF_RANGE',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export function driveErrorBody(error: DriveError): unknown {
  const detail: Record<string, string> = {
    message: error.message,
    domain: error.options.domain ?? 'global',
    reason: error.reason,
  };
  if (error.options.location) detail.location = error.options.location;
  if (error.options.locationType) detail.locationType = error.options.locationType;
  const body: Record<string, unknown> = { code: error.status, message: error.message, errors: [detail] };
  const status = error.options.statusText ?? STATUS_TEXT[error.status];
  if (status) body.status = status;
  return { error: body };
}

export function sendJson(
  ex: Exchange,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<void> {
  const data = Buffer.from(JSON.stringify(body, null, 1));
  return sendBuffer(ex, status, data, { 'content-type': 'application/json; charset=UTF-8', ...headers });
}

export function sendError(ex: Exchange, error: DriveError | OAuthError): Promise<void> {
  if (error instanceof OAuthError) {
    return sendJson(ex, error.status, { error: error.error, error_description: error.description });
  }
  return sendJson(ex, error.status, driveErrorBody(error), error.options.headers ?? {});
}

/** Sends a whole small body, shaped. */
export async function sendBuffer(
  ex: Exchange,
  status: number,
  data: Buffer,
  headers: Record<string, string>,
): Promise<void> {
  if (ex.res.headersSent || ex.res.destroyed) return;
  if (ex.answerDelayMs) await sleep(ex.answerDelayMs);
  if (ex.res.headersSent || ex.res.destroyed) return;
  ex.res.writeHead(status, { ...headers, 'content-length': String(data.length) });
  await writeShaped(ex, data);
  ex.res.end();
}

/** Writes to the response at the connection's rate, honouring backpressure. */
export async function writeShaped(ex: Exchange, data: Buffer): Promise<void> {
  // Small slices only when shaping, so the pacing is smooth; otherwise hand it over whole.
  const slice = ex.shaper.outbound ? 16 * 1024 : Math.max(1, data.length);
  for (let at = 0; at < data.length; at += slice) {
    const piece = data.subarray(at, Math.min(at + slice, data.length));
    if (ex.shaper.outbound) await ex.shaper.outbound.take(piece.length);
    if (ex.res.destroyed) throw new Error('connection closed');
    if (!ex.res.write(piece)) await once(ex.res, 'drain');
  }
}

/** The request body as a stream of chunks at the connection's rate. */
export async function* readShaped(ex: Exchange): AsyncGenerator<Buffer> {
  for await (const chunk of ex.req as AsyncIterable<Buffer>) {
    if (ex.shaper.inbound) await ex.shaper.inbound.take(chunk.length);
    yield chunk;
  }
}

/**
 * Reads a small body whole; bigger than `limit` is refused with 413 once the body has been
 * read to its end (leaving a for-await early would destroy the request and reset the client).
 */
export async function readAll(ex: Exchange, limit = 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of readShaped(ex)) {
    total += chunk.length;
    if (total <= limit) parts.push(chunk);
  }
  if (total > limit) throw new DriveError(413, 'uploadTooLarge', 'The request body is too large.');
  return Buffer.concat(parts);
}

/** Reads and discards what is left of the body, so an early error answer arrives cleanly. */
export async function drain(ex: Exchange): Promise<void> {
  if (ex.req.readableEnded) return;
  for await (const _ of readShaped(ex)) {
    // discarded on purpose
  }
}

/** Reads a JSON object body (empty body = `{}`); anything else is Google's 400 parseError. */
export async function readJsonObject(ex: Exchange): Promise<Record<string, unknown>> {
  const data = await readAll(ex);
  if (data.length === 0) return {};
  const type = ex.req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw badRequest('badContent', `Unsupported content with type: ${type || '(none)'}`);
  }
  return parseJsonObject(data);
}

/** Bytes that must hold a JSON object; anything else is Google's 400 parseError. */
export function parseJsonObject(data: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    throw badRequest('parseError', 'Parse Error');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest('parseError', 'Parse Error');
  }
  return parsed as Record<string, unknown>;
}

/** Reads part of the body (about half of what is announced, at most 1 MiB), then cuts the connection. */
export async function resetMidBody(ex: Exchange): Promise<void> {
  const announced = Number(ex.req.headers['content-length'] ?? 0);
  const want = Math.min(Math.floor(announced / 2), 1024 * 1024);
  let seen = 0;
  if (want > 0) {
    for await (const chunk of readShaped(ex)) {
      seen += chunk.length;
      if (seen >= want) break;
    }
  }
  ex.socket.destroy();
}

/** Boolean query parameters as Google reads them: absent = false, only `true`/`false` accepted. */
export function boolParam(url: URL, name: string): boolean {
  const value = url.searchParams.get(name);
  if (value === null) return false;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest('invalidParameter', `Invalid value '${value}' for boolean parameter ${name}.`, name);
}
