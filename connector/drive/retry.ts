/**
 * The one retry policy: every Drive and OAuth request of the connector goes through `Pacer.run`.
 *
 * Failures are classified once, here, following Google's guidance (see
 * shared/reference/google-drive-facts.md, "Errors and retries"):
 *  - retried with exponential backoff and full jitter, honouring Retry-After: 429, 500, 502,
 *    503, 504, 403 rateLimitExceeded / userRateLimitExceeded, connection resets and timeouts;
 *  - final at once, as one GdriveBackupError the admin can act on: Drive full, daily limit,
 *    permission denied, not found, invalid requests, invalid_grant;
 *  - the 750 GB/day upload cap, which Drive answers on upload requests as an ordinary-looking
 *    403 userRateLimitExceeded "User rate limit exceeded.": an upload request gets a short
 *    budget of attempts for it (a burst of real rate limiting passes), then it is `daily_limit`.
 *    rclone's drive backend treats this answer as the upload limit (`--drive-stop-on-upload-limit`,
 *    Fs.shouldRetry in backend/drive/drive.go, matching the message "User rate limit exceeded.").
 *    On metadata requests the same answer stays an ordinary rate limit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ErrorParams, GdriveBackupError, localFileError } from '../errors/errors.js';

/** What went wrong with one request, whatever client made it. */
export interface DriveFailure {
  /** HTTP status, absent for network failures. */
  status?: number;
  /** Google's `errors[0].reason`, or the OAuth `error` field. */
  reason?: string;
  message?: string;
  /** Raw Retry-After header value. */
  retryAfter?: string;
  /** Node/undici error code for network failures (ECONNRESET, ETIMEDOUT, ...). */
  networkCode?: string;
}

/** Thrown by request helpers to hand a classified HTTP/network failure to the pacer. */
export class DriveRequestError extends Error {
  constructor(readonly failure: DriveFailure) {
    super(describeFailure(failure));
    this.name = 'DriveRequestError';
  }
}

/** Pacer labels of the requests that carry file content to Drive. */
const UPLOAD_LABELS = new Set(['upload.start', 'upload.chunk', 'upload.multipart']);
/** Attempts an upload request gets for the daily-cap answer before it is reported as the cap. */
export const UPLOAD_CAP_ATTEMPTS = 3;
/** Google's message for the daily upload cap (ordinary per-user rate limits word it otherwise). */
const UPLOAD_CAP_MESSAGE = 'User rate limit exceeded.';

/** True for Drive's answer to an upload request over the 750 GB/day cap (or a burst like it). */
export function isUploadCap(label: string, f: DriveFailure): boolean {
  if (!UPLOAD_LABELS.has(label) || f.status !== 403) return false;
  return (
    f.reason === 'userRateLimitExceeded' ||
    (f.reason === 'rateLimitExceeded' && f.message === UPLOAD_CAP_MESSAGE)
  );
}

const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);
/**
 * errnos of sockets and name resolution: the network failed, Drive may answer next time. Every
 * other errno comes from a local file (ENOSPC, EIO, EISDIR, EACCES, ...) and is the admin's to
 * fix, never Google's: see localFailure().
 */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ESOCKETTIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'EAI_FAIL',
  'ENOTFOUND',
  'ENETUNREACH',
  'ENETDOWN',
  'ENETRESET',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'EPROTO',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);
/** Syscalls that only sockets make: an unknown errno of theirs is still the network's. */
const SOCKET_SYSCALLS = new Set(['connect', 'getaddrinfo', 'getnameinfo', 'listen', 'bind', 'accept']);

export function describeFailure(f: DriveFailure): string {
  if (f.status === undefined) return `network error ${f.networkCode ?? ''} ${f.message ?? ''}`.trim();
  return `HTTP ${f.status}${f.reason ? ` ${f.reason}` : ''}${f.message ? `: ${f.message}` : ''}`;
}

export function isRetryable(f: DriveFailure): boolean {
  if (f.status === undefined) return f.networkCode === undefined || NETWORK_CODES.has(f.networkCode);
  if (RETRYABLE_STATUSES.has(f.status)) return true;
  return f.status === 403 && f.reason !== undefined && RATE_LIMIT_REASONS.has(f.reason);
}

/** Google's JSON error body (`{error: {code, message, errors: [{reason}]}}`) or OAuth's (`{error, error_description}`). */
export function failureFromBody(status: number, body: unknown, retryAfter?: string | null): DriveFailure {
  const failure: DriveFailure = { status };
  if (retryAfter) failure.retryAfter = retryAfter;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      failure.message = body.slice(0, 200);
      return failure;
    }
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (typeof error === 'string') {
    failure.reason = error;
    const description = (parsed as { error_description?: unknown }).error_description;
    if (typeof description === 'string') failure.message = description;
  } else if (error && typeof error === 'object') {
    const e = error as { message?: unknown; errors?: Array<{ reason?: unknown }>; status?: unknown };
    if (typeof e.message === 'string') failure.message = e.message;
    const reason = e.errors?.[0]?.reason;
    if (typeof reason === 'string') failure.reason = reason;
    else if (typeof e.status === 'string') failure.reason = e.status;
  }
  return failure;
}

/** Turns whatever a client threw (GaxiosError, fetch/undici error, DriveRequestError) into a DriveFailure. */
export function failureFromError(error: unknown): DriveFailure | undefined {
  if (error instanceof DriveRequestError) return error.failure;
  if (!(error instanceof Error)) return undefined;
  const e = error as Error & {
    code?: unknown;
    status?: unknown;
    response?: { status?: number; data?: unknown; headers?: unknown };
    cause?: unknown;
  };
  if (e.response && typeof e.response.status === 'number') {
    return failureFromBody(
      e.response.status,
      e.response.data,
      headerValue(e.response.headers, 'retry-after'),
    );
  }
  const code = networkCode(e);
  if (code !== undefined) return { networkCode: code, message: withoutQueries(e.message) };
  if (e.name === 'AbortError' || e.name === 'TimeoutError')
    return { networkCode: 'ETIMEDOUT', message: withoutQueries(e.message) };
  return undefined;
}

/**
 * Network errors of the HTTP client quote the request URL, and a resumable session URI is a
 * capability (whoever holds it can write into the upload): query strings are cut before a
 * message can reach an error text or a log.
 */
export function withoutQueries(text: string): string {
  return text.replace(/(https?:\/\/[^\s?#'"]+)\?[^\s#'"]*/g, '$1?…');
}

function networkCode(error: unknown, depth = 0): string | undefined {
  if (!error || typeof error !== 'object' || depth > 4) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
    const syscall = (error as { syscall?: unknown }).syscall;
    return typeof syscall === 'string' && SOCKET_SYSCALLS.has(syscall) ? code : undefined;
  }
  const message = (error as { message?: unknown }).message;
  if (
    typeof message === 'string' &&
    /socket hang up|terminated|other side closed|fetch failed/i.test(message)
  ) {
    const inner = networkCode((error as { cause?: unknown }).cause, depth + 1);
    return inner ?? 'ECONNRESET';
  }
  return networkCode((error as { cause?: unknown }).cause, depth + 1);
}

/** The errno error of a local file somewhere in `error`'s cause chain (not a network errno). */
function localErrno(error: unknown, depth = 0): NodeJS.ErrnoException | undefined {
  if (!error || typeof error !== 'object' || depth > 4 || error instanceof GdriveBackupError)
    return undefined;
  const e = error as NodeJS.ErrnoException & { response?: unknown };
  if (e.response !== undefined) return undefined;
  if (typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) && networkCode(e) === undefined) {
    // Node's system errors carry the errno (negative) and the syscall; a library's own E-codes do not.
    if (typeof e.errno === 'number' || typeof e.syscall === 'string') return e;
  }
  return localErrno(e.cause, depth + 1);
}

/**
 * `local_file_error` when `error` is an errno of a local file (ENOSPC, EIO, EISDIR, EACCES, a
 * FIFO's ENXIO, ...), else undefined. The path is the one the error names, else `localFile`.
 * Anything that reads or writes local files next to Drive requests classifies through this, so
 * a full disk is never reported as Google's failure.
 */
export function localFailure(error: unknown, localFile?: string): GdriveBackupError | undefined {
  const errno = localErrno(error);
  if (errno === undefined) return undefined;
  return localFileError(errno.path ?? localFile ?? '(unknown local file)', errno);
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** Context used to word final errors. */
export interface FailureContext extends ErrorParams {
  object?: string;
  path?: string;
  /** The local file the request reads or writes, named by a local_file_error. */
  localFile?: string;
}

/**
 * The admin's error for a failure that retrying cannot fix (or that kept failing); `label` names
 * the request (an upload request's rate-limit answer is the daily cap). Its cause is the
 * DriveRequestError, so callers can tell Google's reasons apart (driveReason).
 */
export function finalError(
  f: DriveFailure,
  context: FailureContext,
  attempts = 1,
  label = '',
): GdriveBackupError {
  const error = catalogueError(f, context, attempts, label);
  error.cause = new DriveRequestError(f);
  return error;
}

/** Google's reason (`errors[0].reason`) behind a final error of the Pacer, if any. */
export function driveReason(error: unknown): string | undefined {
  const cause = error instanceof GdriveBackupError ? error.cause : undefined;
  return cause instanceof DriveRequestError ? cause.failure.reason : undefined;
}

function catalogueError(
  f: DriveFailure,
  context: FailureContext,
  attempts: number,
  label: string,
): GdriveBackupError {
  const detail = describeFailure(f);
  const { localFile: _local, ...where } = context;
  const params = { ...where, detail, attempts };
  const reason = f.reason ?? '';
  if (isUploadCap(label, f)) return new GdriveBackupError('daily_limit', params);
  if (reason === 'invalid_grant') return new GdriveBackupError('reconnect_required', params);
  if (f.status === 401) return new GdriveBackupError('reconnect_required', params);
  if (
    reason === 'storageQuotaExceeded' ||
    reason === 'quotaExceeded' ||
    reason === 'teamDriveFileLimitExceeded'
  )
    return new GdriveBackupError('drive_full', params);
  if (
    reason === 'dailyLimitExceeded' ||
    reason === 'uploadLimitExceeded' ||
    reason === 'userUploadLimitExceeded'
  )
    return new GdriveBackupError('daily_limit', params);
  if (f.status === 403 && RATE_LIMIT_REASONS.has(reason))
    return new GdriveBackupError('rate_limited', params);
  if (f.status === 429) return new GdriveBackupError('rate_limited', params);
  if (f.status === 403)
    return new GdriveBackupError('permission_denied', { ...params, path: context.path ?? '' });
  if (f.status === 404) return new GdriveBackupError('not_found', { ...params, path: context.path ?? '' });
  if (isRetryable(f)) return new GdriveBackupError('drive_unavailable', params);
  return new GdriveBackupError('drive_error', params);
}

export interface RetryPolicy {
  maxAttempts: number;
  baseMs: number;
  /** Longest single wait; Retry-After above it is still honoured up to `maxRetryAfterMs`. */
  capMs?: number;
  maxRetryAfterMs?: number;
}

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  failure: DriveFailure;
  label: string;
}

/**
 * Runs requests under the retry policy. `fn` gets the attempt number (1-based) so that callers
 * with state to re-sync (the resumable upload asks Drive for its offset) know a retry is on.
 */
export class Pacer {
  private readonly capMs: number;
  private readonly maxRetryAfterMs: number;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly onRetry?: (event: RetryEvent) => void,
    private readonly random: () => number = Math.random,
  ) {
    this.capMs = policy.capMs ?? 32_000;
    this.maxRetryAfterMs = policy.maxRetryAfterMs ?? 120_000;
  }

  async run<T>(label: string, context: FailureContext, fn: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (error) {
        if (error instanceof GdriveBackupError) throw error;
        const local = localFailure(error, context.localFile);
        if (local !== undefined) throw local;
        const failure = failureFromError(error);
        if (failure === undefined) throw error;
        if (!isRetryable(failure)) throw finalError(failure, context, attempt, label);
        const budget = isUploadCap(label, failure)
          ? Math.min(UPLOAD_CAP_ATTEMPTS, this.policy.maxAttempts)
          : this.policy.maxAttempts;
        if (attempt >= budget) throw finalError(failure, context, attempt, label);
        const delayMs = this.delayFor(attempt, failure);
        this.onRetry?.({ attempt, delayMs, failure, label });
        await sleep(delayMs);
      }
    }
  }

  /** Full-jitter exponential backoff; Retry-After (seconds or HTTP date) wins when longer. */
  delayFor(attempt: number, failure: DriveFailure): number {
    const exponential = Math.min(this.capMs, this.policy.baseMs * 2 ** (attempt - 1));
    const jittered = Math.round(exponential / 2 + (this.random() * exponential) / 2);
    const retryAfterMs = parseRetryAfter(failure.retryAfter);
    if (retryAfterMs === undefined) return jittered;
    return Math.min(this.maxRetryAfterMs, Math.max(jittered, retryAfterMs));
  }
}

export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
