/**
 * The one error catalogue of the product.
 *
 * Each code is stable (the PHP hook maps codes to locale keys; scripts match on them), has the
 * HTTP status the service answers with, says whether trying again later can help, and carries
 * the one sentence the admin sees: what happened and what to do. Routes, the CLI and the PHP
 * side all use these codes; nothing else invents error texts for the admin.
 */

export interface ErrorSpec {
  status: number;
  retryable: boolean;
  /** The admin's sentence; `{name}` placeholders are filled from the error's params. */
  message: string;
}

export const ERRORS = {
  bad_request: { status: 400, retryable: false, message: 'The request is invalid: {detail}.' },
  unknown_route: {
    status: 404,
    retryable: false,
    message:
      'The connector has no route {method} {url}: update the extension and the connector to the same version.',
  },
  invalid_path: {
    status: 400,
    retryable: false,
    message: 'The path "{path}" is not allowed: {reason}.',
  },
  invalid_object: {
    status: 400,
    retryable: false,
    message:
      'The object "{object}" is not valid: use server, reseller:<id>, customer:<id> or subscription:<id>.',
  },
  unauthorized: {
    status: 401,
    retryable: false,
    message: "The request lacks the connector's API token: send the token kept in <data dir>/api-token.",
  },
  not_configured: {
    status: 400,
    retryable: false,
    message:
      'The OAuth client id and secret are not set: enter them on the extension page (or set GDRIVE_CLIENT_ID and GDRIVE_CLIENT_SECRET).',
  },
  not_connected: {
    status: 409,
    retryable: false,
    message:
      'No Google account is connected for {object}: click "Connect Google Drive" in the storage settings.',
  },
  reconnect_required: {
    status: 409,
    retryable: false,
    message:
      'Google no longer accepts the access granted for {object} (revoked or expired): reconnect Google Drive in the storage settings.',
  },
  oauth_state_invalid: {
    status: 400,
    retryable: false,
    message:
      'This Google sign-in answer is unknown, expired or already used: click "Connect Google Drive" again.',
  },
  oauth_denied: {
    status: 400,
    retryable: false,
    message:
      'Access to Google Drive was not granted ({reason}): click "Connect Google Drive" again and allow access.',
  },
  oauth_exchange_failed: {
    // Google's own answer is a 400 (invalid_grant for a used or foreign code, invalid_client):
    // the sign-in is refused, nothing upstream is broken.
    status: 400,
    retryable: false,
    message:
      'Google refused the sign-in code ({reason}): check the OAuth client id, secret and redirect URI, then connect again.',
  },
  connect_port_unavailable: {
    status: 409,
    retryable: false,
    message:
      "The loopback port {port} for Google's answer cannot be used ({reason}): free it, or pick another with --port and register http://127.0.0.1:<port>/oauth2callback for the OAuth client, or run connect --headless.",
  },
  connect_no_answer: {
    status: 400,
    retryable: false,
    message:
      'No answer from Google reached connect: run connect again, allow access, and paste the whole address the browser ended on (it starts with {redirectUri}).',
  },
  not_found: { status: 404, retryable: false, message: 'There is no "{path}" on Google Drive.' },
  not_a_directory: { status: 409, retryable: false, message: '"{path}" is a file, not a directory.' },
  is_a_directory: { status: 409, retryable: false, message: '"{path}" is a directory, not a file.' },
  unknown_handle: {
    status: 404,
    retryable: false,
    message: 'The file handle "{fd}" is unknown or already closed: open the file again.',
  },
  wrong_handle_kind: {
    status: 409,
    retryable: false,
    message: 'The file handle "{fd}" was opened for {kind}: use it only for that.',
  },
  local_file_forbidden: {
    status: 403,
    retryable: false,
    message:
      'The local file "{path}" is outside the exchange directories ({allowed}): use a file inside one of them.',
  },
  local_file_error: {
    status: 400,
    retryable: false,
    message: 'The local file "{path}" cannot be used: {reason}.',
  },
  drive_full: {
    status: 507,
    retryable: false,
    message:
      'The Google Drive of {object} is full: free space in Google Drive or buy more storage, then run the backup again.',
  },
  daily_limit: {
    status: 429,
    retryable: false,
    message:
      "Google Drive's daily upload limit is reached: the backup can run again after the limit resets (within 24 hours).",
  },
  rate_limited: {
    status: 503,
    retryable: true,
    message:
      'Google Drive kept asking to slow down after {attempts} attempts: the operation can be tried again in a few minutes.',
  },
  permission_denied: {
    status: 403,
    retryable: false,
    message:
      'Google Drive denied access to "{path}": check that the connected account may write to the backup folder.',
  },
  upload_session_expired: {
    status: 410,
    retryable: false,
    message: 'The upload session of "{path}" expired on Google Drive: the file has to be written again.',
  },
  upload_incomplete: {
    status: 409,
    retryable: false,
    message:
      'The backup file "{path}" was not stored on Google Drive: an earlier append of it failed and was not repeated, so the upload was cancelled: run the backup again.',
  },
  verification_failed: {
    status: 502,
    retryable: true,
    message:
      'The copy of "{path}" on Google Drive does not match what was sent ({detail}); it was removed: run the backup again.',
  },
  read_verification_failed: {
    status: 502,
    retryable: true,
    message:
      'The data read from "{path}" on Google Drive does not match its checksum ({detail}): run the restore again.',
  },
  drive_unavailable: {
    status: 502,
    retryable: true,
    message: 'Google Drive did not answer properly after {attempts} attempts ({detail}): try again later.',
  },
  drive_error: {
    status: 502,
    retryable: false,
    message: 'Google Drive refused the request ({detail}).',
  },
  low_quota: {
    status: 507,
    retryable: false,
    message:
      'Only {free} are free on the Google Drive of {object} (less than {threshold}): free space in Google Drive or buy more storage before backups fail.',
  },
  service_stopping: {
    status: 503,
    retryable: true,
    message:
      'The connector service is stopping: send the request again in a moment (the service starts again on demand).',
  },
  data_dir_locked: {
    status: 423,
    retryable: true,
    message: 'Another gdrive-backup process is using {dataDir}: wait for it or stop it, then try again.',
  },
  secret_too_large: {
    status: 413,
    retryable: false,
    message:
      "A secret of {size} characters does not fit Plesk's Key-Value Storage (the connector keeps them below 4000 characters, Plesk's limit is 5000).",
  },
  secrets_not_loaded: {
    status: 503,
    retryable: true,
    message:
      "The connector does not have the extension's secrets yet: send them with PUT /v1/secrets, then the request again (the Plesk extension does this by itself).",
  },
  state_damaged: {
    status: 500,
    retryable: false,
    message:
      "The connector's state file {file} is damaged ({reason}): move it aside and start the connector again; backups that were in progress must run again.",
  },
  state_unavailable: {
    status: 500,
    retryable: true,
    message:
      'The state store cannot be reached ({detail}): check GDRIVE_BACKUP_STORE_URL and that Redis is running, or leave it empty for the embedded store.',
  },
  secrets_unavailable: {
    status: 500,
    retryable: true,
    message:
      'The secrets store cannot be reached ({detail}): check the data directory (file store) or the extension that loads the secrets (client store).',
  },
  internal: {
    status: 500,
    retryable: false,
    message: 'The connector failed unexpectedly ({detail}): see the connector log.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export type ErrorParams = Record<string, string | number | undefined>;

function render(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = params[key];
    return value === undefined ? `{${key}}` : String(value);
  });
}

/** The product's error: a stable code, the admin's sentence, status and retryability. */
export class GdriveBackupError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly params: ErrorParams;

  constructor(code: ErrorCode, params: ErrorParams = {}, options?: { cause?: unknown; retryable?: boolean }) {
    const spec: ErrorSpec = ERRORS[code];
    super(render(spec.message, params), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GdriveBackupError';
    this.code = code;
    this.status = spec.status;
    this.retryable = options?.retryable ?? spec.retryable;
    this.params = params;
  }

  /**
   * The HTTP API's error object. `params` are the values of the sentence's placeholders, so a
   * client with its own translations (the PHP hook's locales) can word the same sentence.
   */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; params: Record<string, string> } {
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.params))
      if (value !== undefined) params[key] = String(value);
    return { code: this.code, message: this.message, retryable: this.retryable, params };
  }
}

export function isGdriveBackupError(error: unknown, code?: ErrorCode): error is GdriveBackupError {
  return error instanceof GdriveBackupError && (code === undefined || error.code === code);
}

/** What an errno of the local file system means, in the admin's words. */
const LOCAL_ERRNO_REASONS: Record<string, string> = {
  ENOENT: 'it does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a parent of it is not a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file is too large for its file system',
  EIO: 'an input/output error of the device',
  EROFS: 'its file system is read-only',
  ENXIO: 'it is a FIFO or device without a reader',
  EMFILE: 'too many files are open in the connector',
  ENFILE: 'too many files are open on the system',
  ELOOP: 'it is a symbolic link or has too many of them',
  EAGAIN: 'it would block (a FIFO or device)',
  EBADF: 'the file was not opened for this',
};

/**
 * `local_file_error` for an errno of a local file (the one place that words them): the path
 * and the cause, e.g. "no space left on the device (ENOSPC)". Never Google's fault.
 */
export function localFileError(path: string, error: unknown): GdriveBackupError {
  if (error instanceof GdriveBackupError) return error;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const known = code === undefined ? undefined : LOCAL_ERRNO_REASONS[code];
  const reason = known ? `${known} (${code})` : (code ?? 'error');
  return new GdriveBackupError('local_file_error', { path, reason }, { cause: error });
}

/** Any thrown value as a GdriveBackupError (unknown ones become `internal`). */
export function toGdriveBackupError(error: unknown): GdriveBackupError {
  if (error instanceof GdriveBackupError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new GdriveBackupError('internal', { detail }, { cause: error });
}
