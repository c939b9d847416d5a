/**
 * The connector's configuration, defined once.
 *
 * Every setting is one row of SETTINGS: its name, environment variable, command-line flag,
 * default, validation and help text. `--help`, start-up validation and the settings table of
 * docs/cli.md all come from this table (test/docs/readme.test.ts fails when that table drifts).
 *
 * Precedence: defaults < config file (`<data dir>/config.json`, or GDRIVE_BACKUP_CONFIG)
 * < environment < command-line flags. A bad value stops start-up with a ConfigError naming the
 * setting and what it accepts.
 */
import { readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import envPaths from 'env-paths';
import { BYTE_SIZE_ACCEPTS, parseByteSize } from './byte-size.js';

export const RESUMABLE_CHUNK_ALIGNMENT = 256 * 1024;

export interface Config {
  /** State, secrets key, api token, socket, spill files. */
  dataDir: string;
  clientId: string;
  clientSecret: string;
  /** Base URL of Google's APIs, ending with '/'. */
  apiRoot: string;
  oauthAuthUrl: string;
  oauthTokenUrl: string;
  oauthRevokeUrl: string;
  /** Type of the OAuth client in Google Cloud console; decides connect's default port. */
  clientType: 'web' | 'desktop';
  /** Loopback port of `connect`'s redirect listener; 0 = any free port (Desktop app clients). */
  connectPort: number;
  /** 'drive.file' (default, non-sensitive) or 'drive' (full access, restricted scope). */
  scope: 'drive.file' | 'drive';
  /** Bytes per resumable-upload PUT; a multiple of 256 KiB. */
  chunkSize: number;
  /** Parallel ranged GETs for one large read. */
  downloadStreams: number;
  /** Bytes per ranged GET when a read is split. */
  downloadRangeSize: number;
  /** Largest piece read ahead after a sized read (in the data dir); 0 = no read-ahead. */
  readAheadMax: number;
  /** Default root: a path under My Drive, `id:<folderId>` or `drive:<sharedDriveId>[/path]`. */
  rootFolder: string;
  /** Directories `localFile` may lie in. */
  exchangeDirs: string[];
  /** '' for the embedded file store, or `redis://...`. */
  storeUrl: string;
  /** Where refresh tokens live: the embedded encrypted file, or the client's copy held in memory. */
  secretsStore: 'file' | 'client';
  socketPath: string;
  /** 'host:port' on loopback instead of the unix socket; '' to use the socket. */
  listen: string;
  /** Group given read/write access to the socket (mode 0660); '' keeps it 0600. */
  socketGroup: string;
  /** Seconds without requests and open handles after which `serve` exits; 0 = never. */
  idleTimeout: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Attempts for one retryable request before giving up. */
  maxAttempts: number;
  /** First backoff delay in ms; doubles each attempt, with jitter, capped at 32 s. */
  retryBaseMs: number;
  /** check() warns when free quota is below this many bytes. */
  lowQuotaBytes: number;
  /** Bytes per second for all uploads and downloads of the connector together; 0 = no limit. */
  bandwidthLimit: number;
  /** Where the service writes its log, rotated by size; '' = standard output. */
  logFile: string;
  /** Size at which the log file is rotated. */
  logMaxSize: number;
  /** Rotated log files kept beside the current one (`<log file>.1` is the newest). */
  logKeep: number;
}

type Parser<T> = (raw: string) => T;

/** Plesk's main configuration file; its DUMP_D names the dump dir (Plesk KB "Local backup structure"). */
export const PSA_CONF = '/etc/psa/psa.conf';

/** The dump dir of a Plesk server (DUMP_D of psa.conf), none elsewhere. */
export function pleskDumpDir(file: string = PSA_CONF): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const match = /^[ \t]*DUMP_D[ \t]+(\/\S*)[ \t]*$/m.exec(text);
  return match?.[1] ? [resolve(match[1])] : [];
}

interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  flag: string;
  default: (partial: Partial<Config>) => Config[K];
  parse: Parser<Config[K]>;
  accepts: string;
  help: string;
  /** Shown as '(set)' instead of its value. */
  secret?: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    detail: string,
  ) {
    super(`Invalid setting ${setting}: ${detail}`);
    this.name = 'ConfigError';
  }
}

const str: Parser<string> = (raw) => raw;

const url: Parser<string> = (raw) => {
  const parsed = new URL(raw);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not an http(s) URL');
  return raw;
};

const rootUrl: Parser<string> = (raw) => {
  url(raw);
  return raw.endsWith('/') ? raw : `${raw}/`;
};

const absPath: Parser<string> = (raw) => {
  if (!isAbsolute(raw)) throw new Error('not an absolute path');
  return resolve(raw);
};

function int(min: number, max: number): Parser<number> {
  return (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new Error('not a whole number');
    const value = Number(raw);
    if (value < min || value > max) throw new Error(`out of range ${min}..${max}`);
    return value;
  };
}

function oneOf<T extends string>(...values: T[]): Parser<T> {
  return (raw) => {
    if (!(values as string[]).includes(raw)) throw new Error(`not one of ${values.join(', ')}`);
    return raw as T;
  };
}

/** A byte size (parseByteSize: 16MiB, 262144, 1G) within min..max. */
function size(min: number, max: number): Parser<number> {
  return (raw) => {
    const value = parseByteSize(raw);
    if (value < min || value > max) throw new Error(`out of range ${min}..${max}`);
    return value;
  };
}

const chunkSize: Parser<number> = (raw) => {
  const value = size(RESUMABLE_CHUNK_ALIGNMENT, 1024 * 1024 * 1024)(raw);
  if (value % RESUMABLE_CHUNK_ALIGNMENT !== 0) throw new Error('not a multiple of 262144 (256 KiB)');
  return value;
};

const optionalAbsPath: Parser<string> = (raw) => (raw === '' ? raw : absPath(raw));

const pathList: Parser<string[]> = (raw) =>
  raw
    .split(delimiter)
    .filter((p) => p !== '')
    .map(absPath);

const listen: Parser<string> = (raw) => {
  if (raw === '') return raw;
  const match = /^(.+):(\d+)$/.exec(raw);
  if (!match) throw new Error('not HOST:PORT');
  int(0, 65535)(match[2]!);
  return raw;
};

const MIB = 1024 * 1024;

/**
 * `connect`'s fixed loopback port: a "Web application" client accepts only registered redirect
 * URIs, so the port must be known in advance (register http://127.0.0.1:28373/oauth2callback).
 * Below Linux's ephemeral range (32768-60999), so an outgoing connection never holds it.
 */
export const DEFAULT_CONNECT_PORT = 28373;

/** The table. Order here is the order of `--help` and of docs/cli.md's settings table. */
export const SETTINGS = [
  {
    key: 'dataDir',
    env: 'GDRIVE_BACKUP_DATA_DIR',
    flag: '--data-dir',
    default: () => envPaths('gdrive-backup', { suffix: '' }).data,
    parse: absPath,
    accepts: 'an absolute path',
    help: 'State, encrypted secrets, API token and socket of the connector',
  },
  {
    key: 'clientId',
    env: 'GDRIVE_CLIENT_ID',
    flag: '--client-id',
    default: () => '',
    parse: str,
    accepts: 'an OAuth client id from Google Cloud console',
    help: 'OAuth2 client id of your Google Cloud project (type "Web application"; "Desktop app" serves the CLI only)',
  },
  {
    key: 'clientSecret',
    env: 'GDRIVE_CLIENT_SECRET',
    flag: '--client-secret',
    default: () => '',
    parse: str,
    accepts: 'the OAuth client secret',
    help: 'OAuth2 client secret of that client',
    secret: true,
  },
  {
    key: 'clientType',
    env: 'GDRIVE_CLIENT_TYPE',
    flag: '--client-type',
    default: () => 'web' as const,
    parse: oneOf('web', 'desktop'),
    accepts: 'web or desktop',
    help: 'Type of that OAuth client: web (Plesk and connect on the registered port) or desktop (connect only, any port)',
  },
  {
    key: 'connectPort',
    env: 'GDRIVE_CONNECT_PORT',
    flag: '--connect-port',
    default: (partial: Partial<Config>) => (partial.clientType === 'desktop' ? 0 : DEFAULT_CONNECT_PORT),
    parse: int(0, 65535),
    accepts: 'a TCP port, 0 = any free port',
    help: `Loopback port of connect's redirect listener; a web client must list http://127.0.0.1:<port>/oauth2callback (default ${DEFAULT_CONNECT_PORT}, 0 for desktop)`,
  },
  {
    key: 'apiRoot',
    env: 'GDRIVE_API_ROOT',
    flag: '--api-root',
    default: () => 'https://www.googleapis.com/',
    parse: rootUrl,
    accepts: 'an http(s) URL',
    help: "Base URL of Google's APIs (the sandbox prints its own)",
  },
  {
    key: 'oauthAuthUrl',
    env: 'GDRIVE_OAUTH_AUTH_URL',
    flag: '--oauth-auth-url',
    default: () => 'https://accounts.google.com/o/oauth2/v2/auth',
    parse: url,
    accepts: 'an http(s) URL',
    help: 'OAuth2 authorization endpoint',
  },
  {
    key: 'oauthTokenUrl',
    env: 'GDRIVE_OAUTH_TOKEN_URL',
    flag: '--oauth-token-url',
    default: () => 'https://oauth2.googleapis.com/token',
    parse: url,
    accepts: 'an http(s) URL',
    help: 'OAuth2 token endpoint',
  },
  {
    key: 'oauthRevokeUrl',
    env: 'GDRIVE_OAUTH_REVOKE_URL',
    flag: '--oauth-revoke-url',
    default: () => 'https://oauth2.googleapis.com/revoke',
    parse: url,
    accepts: 'an http(s) URL',
    help: 'OAuth2 token revocation endpoint',
  },
  {
    key: 'scope',
    env: 'GDRIVE_SCOPE',
    flag: '--scope',
    default: () => 'drive.file' as const,
    parse: oneOf('drive.file', 'drive'),
    accepts: 'drive.file or drive',
    help: 'drive.file sees only what this app wrote (no Google verification needed); drive is full access',
  },
  {
    key: 'chunkSize',
    env: 'GDRIVE_CHUNK_SIZE',
    flag: '--chunk-size',
    default: () => 1024 * MIB,
    parse: chunkSize,
    accepts: 'a size, a multiple of 262144 (256 KiB), e.g. 16MiB',
    help: 'Most bytes one resumable-upload request carries (each appendFile piece goes in one request up to this; lower it for proxies that limit request sizes); memory does not depend on it',
  },
  {
    key: 'downloadStreams',
    env: 'GDRIVE_DOWNLOAD_STREAMS',
    flag: '--download-streams',
    default: () => 4,
    parse: int(1, 32),
    accepts: 'a whole number 1..32',
    help: 'Ranged GET requests run in parallel for one large read',
  },
  {
    key: 'downloadRangeSize',
    env: 'GDRIVE_DOWNLOAD_RANGE_SIZE',
    flag: '--download-range-size',
    default: () => 16 * MIB,
    parse: size(64 * 1024, 1024 * MIB),
    accepts: 'a size, 64KiB..1GiB',
    help: 'Bytes per ranged GET when a read is split across streams',
  },
  {
    key: 'readAheadMax',
    env: 'GDRIVE_READ_AHEAD_MAX',
    flag: '--read-ahead-max',
    default: () => 1024 * MIB,
    parse: int(0, 16 * 1024 * MIB),
    accepts: 'bytes, 0..17179869184 (0: off)',
    help: 'After a readFile, the next piece of the same size is downloaded into the data dir while Plesk unpacks, up to this size',
  },
  {
    key: 'rootFolder',
    env: 'GDRIVE_ROOT_FOLDER',
    flag: '--root-folder',
    default: () => `Plesk Backups/${hostname()}`,
    parse: str,
    accepts: 'a path in My Drive, id:<folderId> or drive:<sharedDriveId>[/path]',
    help: 'Where object folders are made: <root>/<type>/<name>/',
  },
  {
    key: 'exchangeDirs',
    env: 'GDRIVE_EXCHANGE_DIRS',
    flag: '--exchange-dirs',
    default: () => [resolve(tmpdir()), ...pleskDumpDir()],
    parse: pathList,
    accepts: `absolute paths separated by '${delimiter}'`,
    help: "Directories the HTTP API may read appended files from and write read files to; the Plesk extension passes Plesk's dump and temp dirs",
  },
  {
    key: 'storeUrl',
    env: 'GDRIVE_BACKUP_STORE_URL',
    flag: '--store-url',
    default: () => '',
    parse: (raw: string) => {
      if (raw !== '' && !/^rediss?:\/\//.test(raw)) throw new Error('not empty and not a redis:// URL');
      return raw;
    },
    accepts: "'' (embedded file store) or redis://...",
    help: 'State store; Redis lets several connectors share state',
    secret: true,
  },
  {
    key: 'secretsStore',
    env: 'GDRIVE_SECRETS_STORE',
    flag: '--secrets-store',
    default: () => 'file' as const,
    parse: oneOf('file', 'client'),
    accepts: 'file or client',
    help: "file: AES-256-GCM file in the data dir; client: memory only, loaded and kept by the client over the HTTP API (the Plesk extension keeps them in Plesk's encrypted Key-Value Storage)",
  },
  {
    key: 'socketPath',
    env: 'GDRIVE_BACKUP_SOCKET',
    flag: '--socket',
    default: (partial: Partial<Config>) => join(partial.dataDir ?? '.', 'connector.sock'),
    parse: absPath,
    accepts: 'an absolute path',
    help: 'Unix socket the service listens on and the CLI and PHP hook call',
  },
  {
    key: 'listen',
    env: 'GDRIVE_BACKUP_LISTEN',
    flag: '--listen',
    default: () => '',
    parse: listen,
    accepts: "'' or HOST:PORT",
    help: 'Listen on a loopback TCP address instead of the socket',
  },
  {
    key: 'socketGroup',
    env: 'GDRIVE_BACKUP_SOCKET_GROUP',
    flag: '--socket-group',
    default: () => '',
    parse: str,
    accepts: 'a group name or empty',
    help: 'Group that may use the socket (mode 0660); empty keeps it 0600',
  },
  {
    key: 'idleTimeout',
    env: 'GDRIVE_BACKUP_IDLE_TIMEOUT',
    flag: '--idle-timeout',
    default: () => 0,
    parse: int(0, 7 * 24 * 3600),
    accepts: 'seconds, 0 = never',
    help: 'The service exits after this long with no request and no open handle',
  },
  {
    key: 'logLevel',
    env: 'GDRIVE_BACKUP_LOG_LEVEL',
    flag: '--log-level',
    default: () => 'info' as const,
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    accepts: 'fatal, error, warn, info, debug, trace or silent',
    help: 'Log level of the service (logs never contain tokens or codes)',
  },
  {
    key: 'maxAttempts',
    env: 'GDRIVE_MAX_ATTEMPTS',
    flag: '--max-attempts',
    default: () => 8,
    parse: int(1, 100),
    accepts: 'a whole number 1..100',
    help: 'Attempts for one retryable Drive request before the operation fails',
  },
  {
    key: 'retryBaseMs',
    env: 'GDRIVE_RETRY_BASE_MS',
    flag: '--retry-base-ms',
    default: () => 500,
    parse: int(0, 60_000),
    accepts: 'milliseconds 0..60000',
    help: 'First retry delay; doubles each attempt with jitter, capped at 32 s',
  },
  {
    key: 'lowQuotaBytes',
    env: 'GDRIVE_LOW_QUOTA_BYTES',
    flag: '--low-quota-bytes',
    default: () => 10 * 1024 * MIB,
    parse: size(0, Number.MAX_SAFE_INTEGER),
    accepts: BYTE_SIZE_ACCEPTS,
    help: 'check() warns when free Drive space is below this',
  },
  {
    key: 'bandwidthLimit',
    env: 'GDRIVE_BANDWIDTH_LIMIT',
    flag: '--bandwidth-limit',
    default: () => 0,
    parse: size(0, Number.MAX_SAFE_INTEGER),
    accepts: `bytes per second as a size (e.g. 20MiB), 0 = no limit`,
    help: "Upload and download bandwidth of the whole connector, shared by all transfers (e.g. to stay under Google's 750 GB a day: 8MiB)",
  },
  {
    key: 'logFile',
    env: 'GDRIVE_BACKUP_LOG_FILE',
    flag: '--log-file',
    default: () => '',
    parse: optionalAbsPath,
    accepts: "an absolute path, or '' for standard output",
    help: 'File the service logs to, rotated by size (the Plesk extension uses <data dir>/connector.log)',
  },
  {
    key: 'logMaxSize',
    env: 'GDRIVE_BACKUP_LOG_MAX_SIZE',
    flag: '--log-max-size',
    default: () => 10 * MIB,
    parse: size(64 * 1024, 1024 * 1024 * MIB),
    accepts: 'a size, 64KiB..1TiB',
    help: 'The log file is rotated when it reaches this size',
  },
  {
    key: 'logKeep',
    env: 'GDRIVE_BACKUP_LOG_KEEP',
    flag: '--log-keep',
    default: () => 5,
    parse: int(1, 100),
    accepts: 'a whole number 1..100',
    help: 'Rotated log files kept (<log file>.1 is the newest); older ones are deleted',
  },
] as const satisfies readonly Setting<keyof Config>[];

export type ConfigOverrides = { [K in keyof Config]?: string | Config[K] };

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, by setting key; raw strings are parsed like env values. */
  flags?: ConfigOverrides;
  /** Read `<data dir>/config.json` (default true). */
  readFile?: boolean;
}

function applyRaw(
  target: Partial<Config>,
  setting: (typeof SETTINGS)[number],
  raw: unknown,
  source: string,
): void {
  let value: unknown;
  try {
    if (typeof raw === 'string') value = setting.parse(raw);
    else if (setting.key === 'exchangeDirs' && Array.isArray(raw)) value = raw.map((p) => absPath(String(p)));
    else if (typeof raw === 'number' || typeof raw === 'boolean') value = setting.parse(String(raw));
    else throw new Error(`expected a string, got ${typeof raw}`);
  } catch (error) {
    throw new ConfigError(
      `${setting.key} (${source})`,
      `${(error as Error).message}; accepted: ${setting.accepts}`,
    );
  }
  (target as Record<string, unknown>)[setting.key] = value;
}

/** Builds the validated config. Throws ConfigError on the first bad value. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const layers: Array<{ source: string; values: Record<string, unknown> }> = [];

  const envValues: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const raw = env[setting.env];
    if (raw !== undefined && raw !== '') envValues[setting.key] = raw;
  }
  const flagValues: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(flags)) if (raw !== undefined) flagValues[key] = raw;

  // The data dir decides where the config file is, so settle it first.
  const early: Partial<Config> = {};
  const dataDirSetting = SETTINGS[0];
  const dataDirRaw = flagValues.dataDir ?? envValues.dataDir;
  if (dataDirRaw !== undefined) applyRaw(early, dataDirSetting, dataDirRaw, 'data dir');
  const dataDir = early.dataDir ?? dataDirSetting.default();

  if (options.readFile !== false) {
    const file = env.GDRIVE_BACKUP_CONFIG || join(dataDir, 'config.json');
    const fileValues = readConfigFile(file);
    if (fileValues) layers.push({ source: file, values: fileValues });
  }
  layers.push({ source: 'environment', values: envValues });
  layers.push({ source: 'command line', values: flagValues });

  const result: Partial<Config> = {};
  for (const layer of layers) {
    for (const [key, raw] of Object.entries(layer.values)) {
      const setting = SETTINGS.find((s) => s.key === key);
      if (!setting) throw new ConfigError(key, `unknown setting in ${layer.source}`);
      applyRaw(result, setting, raw, layer.source === 'environment' ? setting.env : layer.source);
    }
  }
  for (const setting of SETTINGS) {
    if (result[setting.key] === undefined) {
      (result as Record<string, unknown>)[setting.key] = setting.default(result);
    }
  }
  return result as Config;
}

function readConfigFile(file: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(file, (error as Error).message);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(file, `not a JSON object (${(error as Error).message})`);
  }
}

/** Rows for `--help` and docs/cli.md: setting, env var, flag, default, help. */
export function describeSettings(): Array<{
  key: string;
  env: string;
  flag: string;
  default: string;
  accepts: string;
  help: string;
}> {
  return SETTINGS.map((s) => {
    const value = s.default({ dataDir: '<data dir>' });
    let shown = Array.isArray(value) ? value.join(delimiter) : String(value);
    if (s.key === 'dataDir') shown = '~/.local/share/gdrive-backup';
    if (s.key === 'rootFolder') shown = 'Plesk Backups/<hostname>';
    if (s.key === 'exchangeDirs')
      shown = `<system temp dir>${delimiter}<DUMP_D of ${PSA_CONF}, when present>`;
    return { key: s.key, env: s.env, flag: s.flag, default: shown, accepts: s.accepts, help: s.help };
  });
}
