/**
 * The logging interface the core uses. The service hands in its pino logger (which redacts
 * secrets); the CLI and tests use `silentLog` or a console logger. Never pass tokens, codes or
 * authorization headers in `fields`.
 *
 * The service's log file (GDRIVE_BACKUP_LOG_FILE) is rotated by size with rotating-file-stream,
 * logrotate style: `connector.log` is the current file, `connector.log.1` the newest rotated
 * one, and only GDRIVE_BACKUP_LOG_KEEP of them are kept.
 */
import { basename, dirname } from 'node:path';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';

export interface Log {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const nothing = (): void => {};

export const silentLog: Log = { debug: nothing, info: nothing, warn: nothing, error: nothing };

/** Adapts a pino-style logger (`logger.info(fields, message)`). */
export function fromPino(logger: {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}): Log {
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}

/** A size-rotated log file (mode 0600: a log says which backups exist and where). */
export function rotatingLogFile(file: string, maxSize: number, keep: number): RotatingFileStream {
  const name = basename(file);
  // With `rotate`, the generator gets the rotation index only (null: the current file).
  const generator = (index: number | Date | null) => (typeof index === 'number' ? `${name}.${index}` : name);
  return createStream(generator as (time: number | Date, index?: number) => string, {
    path: dirname(file),
    size: `${maxSize}B`,
    rotate: keep,
    mode: 0o600,
  });
}
