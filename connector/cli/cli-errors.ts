/**
 * The error catalogue as the command line says it. The catalogue's sentences are written for
 * the Plesk screens ("click Connect Google Drive"); where a sentence names something only
 * Plesk has, the command line says it with its own command instead, from the same code and
 * params. Every error is printed in one style, `error: <sentence>`, and ends with an exit code
 * a script can act on (EXIT_CODES; listed by `--help` and in docs/cli.md).
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { type ErrorCode, GdriveBackupError, toGdriveBackupError } from '../errors/errors.js';
import { ServiceError } from '../service/service-client.js';

export const EXIT_CODES = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  retryable: 4,
  locked: 5,
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = [
  'Exit codes:',
  '  0    done',
  '  1    the operation failed (the message says why and what to do)',
  '  2    bad usage or a bad setting',
  '  3    not found: the remote path does not exist',
  '  4    a passing failure (Google Drive unavailable or slowing down, a stopping service): try again later',
  '  5    locked: another gdrive-backup process is using the data directory',
  '  130  interrupted (Ctrl-C); a put or get in progress was cancelled',
].join('\n');

/** The command-line sentences of codes whose catalogue sentence points at Plesk's screens. */
const CLI_SENTENCES: Partial<Record<ErrorCode, string>> = {
  not_configured:
    'The OAuth client id and secret are not set: set GDRIVE_CLIENT_ID and GDRIVE_CLIENT_SECRET (or --client-id and --client-secret).',
  not_connected:
    'No Google account is connected for {object}: run "gdrive-backup connect --object {object}".',
  reconnect_required:
    'Google no longer accepts the access granted for {object} (revoked or expired): run "gdrive-backup connect --object {object}" again.',
  oauth_state_invalid:
    'This Google sign-in answer is unknown, expired or already used: run "gdrive-backup connect" again.',
  oauth_denied:
    'Access to Google Drive was not granted ({reason}): run "gdrive-backup connect" again and allow access.',
  internal: 'gdrive-backup failed unexpectedly ({detail}).',
};

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'it does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  EEXIST: 'it exists already',
  EMFILE: 'too many open files',
  EIO: 'an input/output error of the disk',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  ECONNREFUSED: 'the connection was refused',
};

/** Ctrl-C during a command: what was cancelled, said as a sentence; exit 130. */
export class Interrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Interrupted';
  }
}

/** A local file system error in words ("it does not exist"), never the raw errno text. */
export function describeLocalError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && ERRNO_WORDS[code] !== undefined) return ERRNO_WORDS[code]!;
  if (code !== undefined) return `the system refused it (${code})`;
  return error instanceof Error ? error.message.replace(/\.$/, '') : String(error);
}

/** Errors with a local file as their cause: local_file_error, with the path and the cause in words. */
export function localFileError(path: string, error: unknown): GdriveBackupError {
  return new GdriveBackupError(
    'local_file_error',
    { path, reason: describeLocalError(error) },
    { cause: error },
  );
}

function render(template: string, params: Record<string, string | number | undefined>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = params[key];
    return value === undefined ? whole : String(value);
  });
}

/** The sentence the command line prints for `error`. */
export function cliMessage(error: unknown): string {
  if (error instanceof ConfigError) return `${error.message}.`;
  if (error instanceof Interrupted) return error.message;
  const known = toGdriveBackupError(error);
  // The service's own unexpected failure is in its log, which its sentence points to.
  if (known.code === 'internal' && error instanceof ServiceError) return known.message;
  const template = CLI_SENTENCES[known.code];
  let params = known.params;
  if (known.code === 'internal' && (known.cause as NodeJS.ErrnoException | undefined)?.code !== undefined)
    params = { detail: describeLocalError(known.cause) };
  if (template === undefined) return known.message;
  // A sentence relayed by the service has lost none of its params (ServiceClient keeps them).
  const rendered = render(template, params);
  return /\{\w+\}/.test(rendered) ? known.message : rendered;
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
  if (error instanceof ConfigError) return EXIT_CODES.usage;
  if (error instanceof Interrupted) return EXIT_CODES.interrupted;
  if (!(error instanceof GdriveBackupError)) return EXIT_CODES.failed;
  if (error.code === 'invalid_object' || error.code === 'invalid_path' || error.code === 'bad_request')
    return EXIT_CODES.usage;
  if (error.code === 'not_found') return EXIT_CODES.notFound;
  if (error.code === 'data_dir_locked') return EXIT_CODES.locked;
  if (error.retryable) return EXIT_CODES.retryable;
  return EXIT_CODES.failed;
}

/** How every error reaches stderr: one line, one style. */
export function errorLine(error: unknown): string {
  return `error: ${cliMessage(error)}\n`;
}
