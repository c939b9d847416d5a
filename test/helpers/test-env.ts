/**
 * Shared test environment: a real sandbox, a temp data dir, a config pointing at the sandbox
 * with fast retries, and a real connector whose object is connected through the real OAuth flow
 * (start -> the consent URL answered by the sandbox -> finish).
 *
 *   const env = await startTestEnv();            // object 'server', connected
 *   await env.transport.createDir('/backups');
 *   ...
 *   await env.close();                            // connector, sandbox, temp dirs
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Accounts } from '../../connector/auth/accounts.js';
import { type Config, type ConfigOverrides, loadConfig } from '../../connector/config/config.js';
import { type ConnectorOptions, type CoreConnector, createConnector } from '../../connector/connector.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { RequestCounter } from '../../connector/drive/authorized-http.js';
import { type Log, silentLog } from '../../connector/log.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { openStores } from '../../connector/store/stores.js';
import type { ObjectTransport } from '../../connector/transport/object-transport.js';

export interface TestEnvOptions {
  sandbox?: SandboxOptions;
  /** Config values over the test defaults (retryBaseMs 5, rootFolder 'Plesk Backups/test-host'). */
  config?: ConfigOverrides;
  /** Default: the server. */
  object?: ObjectRef;
  /** Folder name of a non-server object. */
  objectName?: string;
  /** Run the OAuth flow for `object` (default true). */
  connect?: boolean;
  log?: Log;
  now?: () => number;
}

export interface TestEnv {
  sandbox: Sandbox;
  config: Config;
  dataDir: string;
  /** Scratch dir under the system temp dir (an exchange dir) for local files; removed by close(). */
  tmpDir: string;
  connector: CoreConnector;
  object: ObjectRef;
  /** Transport of `object` on the current connector. */
  transport: ObjectTransport;
  /** Connects `object` (default env.object) through the real OAuth flow; returns the e-mail. */
  connect(object?: ObjectRef, input?: { name?: string; folder?: string }): Promise<string>;
  /** Closes the connector and opens a new one on the same data dir (a restart). */
  reopen(config?: ConfigOverrides): Promise<CoreConnector>;
  close(): Promise<void>;
}

export const TEST_ROOT_FOLDER = 'Plesk Backups/test-host';

/** A config for `sandbox` with fast retries; nothing from the process environment leaks in. */
export function testConfig(sandbox: Sandbox, dataDir: string, overrides: ConfigOverrides = {}): Config {
  return loadConfig({
    env: { ...sandbox.env, GDRIVE_BACKUP_DATA_DIR: dataDir },
    readFile: false,
    flags: { retryBaseMs: 5, rootFolder: TEST_ROOT_FOLDER, logLevel: 'silent', ...overrides },
  });
}

/**
 * The browser's part of the consent: follows the consent URL without following the redirect
 * and returns what the redirect URI would receive.
 */
export async function answerConsent(
  url: string,
): Promise<{ state: string; code: string } | { state: string; error: string }> {
  const response = await fetch(url, { redirect: 'manual' });
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) {
    throw new Error(`consent URL answered ${response.status}: ${await response.text()}`);
  }
  const query = new URL(location).searchParams;
  const state = query.get('state') ?? '';
  const error = query.get('error');
  if (error) return { state, error };
  return { state, code: query.get('code') ?? '' };
}

/** start -> consent -> finish, as Plesk's settings page and the CLI do it. */
export async function connectObject(
  connector: CoreConnector,
  object: ObjectRef,
  input: { name?: string; folder?: string } = {},
): Promise<string> {
  const { url } = await connector.oauth.start(object, {
    redirectUri: 'http://127.0.0.1:9/callback',
    ...input,
  });
  const answer = await answerConsent(url);
  const { email } = await connector.oauth.finish(object, answer);
  return email;
}

export async function startTestEnv(options: TestEnvOptions = {}): Promise<TestEnv> {
  const sandbox = await startSandbox(options.sandbox);
  const dataDir = await mkdtemp(join(tmpdir(), 'gdrive-test-data-'));
  const tmpDir = await mkdtemp(join(tmpdir(), 'gdrive-test-files-'));
  const object: ObjectRef = options.object ?? { type: 'server', id: null };
  const names = options.objectName ? { name: options.objectName } : {};
  const connectorOptions: ConnectorOptions = {
    ...(options.log ? { log: options.log } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
  let config = testConfig(sandbox, dataDir, options.config);
  let connector: CoreConnector;
  try {
    connector = await createConnector(config, connectorOptions);
  } catch (error) {
    await sandbox.close();
    throw error;
  }
  const env: TestEnv = {
    sandbox,
    config,
    dataDir,
    tmpDir,
    connector,
    object,
    transport: connector.transport(object, names),
    connect: (other = object, input = other === object ? names : {}) =>
      connectObject(env.connector, other, input),
    async reopen(overrides) {
      await env.connector.close();
      if (overrides) config = testConfig(sandbox, dataDir, { ...options.config, ...overrides });
      env.config = config;
      env.connector = await createConnector(config, connectorOptions);
      env.transport = env.connector.transport(object, names);
      return env.connector;
    },
    async close() {
      await env.connector.close().catch(() => undefined);
      await sandbox.close();
      await rm(dataDir, { recursive: true, force: true });
      await rm(tmpDir, { recursive: true, force: true });
    },
  };
  if (options.connect !== false) {
    try {
      await env.connect();
    } catch (error) {
      await env.close();
      throw error;
    }
  }
  return env;
}

/** Writes `bytes` to `<dir>/<name>` (0600) and returns the path. */
/**
 * Runs `use` with an Accounts of its own over the env's data dir, the connector closed meanwhile
 * (one process owns a data dir), then starts the env's connector again.
 */
export async function withStandaloneAccounts(
  env: TestEnv,
  use: (accounts: Accounts, env: TestEnv) => Promise<void>,
): Promise<void> {
  await env.connector.close();
  const stores = await openStores(env.config, silentLog);
  try {
    await use(
      new Accounts({ ...stores, config: env.config, log: silentLog, counter: new RequestCounter() }),
      env,
    );
  } finally {
    await stores.close();
  }
  env.connector = await createConnector(env.config);
}

/** Writes `content` to `path` through the env's transport in one appendFile; the close's result. */
export async function putFile(env: TestEnv, path: string, content: string | Buffer) {
  const fd = await env.transport.openFileWrite(path);
  await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'piece', content));
  return env.connector.closeWrite(fd);
}

export async function writeLocalFile(dir: string, name: string, bytes: Buffer | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes, { mode: 0o600 });
  return path;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return hashFile(path, 'sha256');
}

export function md5File(path: string): Promise<string> {
  return hashFile(path, 'md5');
}

function hashFile(path: string, algorithm: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash(algorithm);
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: Record<string, unknown>;
}

/** A Log that keeps what it is told (tests assert warnings and that no secret is logged). */
export function recordingLog(): Log & { entries: LogEntry[]; text(): string } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (message: string, fields?: Record<string, unknown>): void => {
      entries.push(fields === undefined ? { level, message } : { level, message, fields });
    };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => entries.map((e) => `${e.level} ${e.message} ${JSON.stringify(e.fields ?? {})}`).join('\n'),
  };
}
