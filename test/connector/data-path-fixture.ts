// Shared set-up of the data-path tests: a real sandbox, a temp data dir, a JSON-file state
// store, an OAuth2Client-backed AuthorizedHttp (tokens refreshed by google-auth-library, 401
// answered by a refresh and one retry) and a TransferHandles over them. `restart()` builds a new
// TransferHandles over a new state store opened on the same file, as a restarted connector would.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { OAuth2Client } from 'google-auth-library';
import { Keyv } from 'keyv';
import { type Config, type ConfigOverrides, loadConfig } from '../../connector/config/config.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { AuthorizedHttp } from '../../connector/drive/authorized-http.js';
import type { DriveHttp } from '../../connector/drive/drive-http.js';
import { Pacer } from '../../connector/drive/retry.js';
import { TransferHandles } from '../../connector/drive/transfer-handles.js';
import { type Log, silentLog } from '../../connector/log.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { JsonFileStore } from '../../connector/store/json-file-store.js';
import { answerConsent } from '../helpers/test-env.js';

export interface DataPathEnv {
  sandbox: Sandbox;
  dataDir: string;
  /** Where tests put their local files. */
  workDir: string;
  config: Config;
  state: Keyv;
  handles: TransferHandles;
  pacer: Pacer;
  http: DriveHttp;
  object: ObjectRef;
  /** A folder made for the test in My Drive. */
  folderId: string;
  /** New state store on the same file and a new TransferHandles, as after a restart (with `config` changed). */
  restart(config?: ConfigOverrides): Promise<TransferHandles>;
  close(): Promise<void>;
}

export interface DataPathOptions {
  config?: ConfigOverrides;
  sandbox?: SandboxOptions;
}

const KIB = 1024;

export async function startDataPath(options: DataPathOptions = {}): Promise<DataPathEnv> {
  const sandbox = await startSandbox(options.sandbox ?? {});
  const dataDir = await mkdtemp(join(tmpdir(), 'gdrive-data-path-'));
  const workDir = join(dataDir, 'work');
  await mkdir(workDir);
  const configWith = (overrides: ConfigOverrides = {}): Config =>
    loadConfig({
      env: { ...sandbox.env, GDRIVE_BACKUP_DATA_DIR: dataDir },
      flags: { retryBaseMs: 5, chunkSize: 256 * KIB, ...options.config, ...overrides },
      readFile: false,
    });
  let config = configWith();
  const client = new OAuth2Client({
    clientId: sandbox.env.GDRIVE_CLIENT_ID,
    clientSecret: sandbox.env.GDRIVE_CLIENT_SECRET,
    endpoints: {
      oauth2TokenUrl: sandbox.env.GDRIVE_OAUTH_TOKEN_URL,
      oauth2RevokeUrl: sandbox.env.GDRIVE_OAUTH_REVOKE_URL,
      oauth2AuthBaseUrl: sandbox.env.GDRIVE_OAUTH_AUTH_URL,
    },
    // The sandbox can expire tokens before their announced expiry: refresh on a 401 then.
    forceRefreshOnFailure: true,
  });
  client.setCredentials({ refresh_token: sandbox.issueRefreshToken() });
  // As the connector's own: a 401 on a streamed body (spent, so the auth client cannot resend
  // it) renews the token and hands the request back to the pacer to build again.
  const http: DriveHttp = new AuthorizedHttp(client, 'server');
  const pacer = new Pacer({ maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs });
  const stateFile = join(dataDir, 'state.json');
  const openState = (): Keyv => new Keyv({ store: new JsonFileStore(stateFile), namespace: 'state' });
  let state = openState();
  const object: ObjectRef = { type: 'server', id: null };
  const deps = () => ({ config, state, log: silentLog, httpFor: async () => http, pacer });
  const folder = await client.request<{ id: string }>({
    url: `${config.apiRoot}drive/v3/files?fields=id`,
    method: 'POST',
    data: { name: 'data-path-test', mimeType: 'application/vnd.google-apps.folder', parents: ['root'] },
  });
  const env: DataPathEnv = {
    sandbox,
    dataDir,
    workDir,
    config,
    state,
    handles: new TransferHandles(deps()),
    pacer,
    http,
    object,
    folderId: folder.data.id,
    async restart(overrides) {
      await state.disconnect();
      state = openState();
      env.state = state;
      if (overrides) {
        config = configWith(overrides);
        env.config = config;
      }
      env.handles = new TransferHandles(deps());
      return env.handles;
    },
    async close() {
      await state.disconnect();
      await sandbox.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return env;
}

/** Writes `bytes` to a new local file in the work dir and returns its path. */
export async function localFile(env: DataPathEnv, name: string, bytes: Uint8Array): Promise<string> {
  const path = join(env.workDir, name);
  await writeFile(path, bytes);
  return path;
}

// The hashes the data-path tests compare with, from the shared helpers.
export { md5, sha256, sha256File } from '../helpers/test-env.js';

/** Deterministic pseudo-random bytes (fast; distinct per seed). */
/**
 * GETs a read of `length` bytes costs (ranged-download.ts, sliceRanges): one when it fits in a
 * range, else `streams` times as many rounds as ranges of `rangeSize` need, in equal ranges.
 */
export function rangeRequests(length: number, rangeSize: number, streams: number): number {
  if (length <= rangeSize) return length > 0 ? 1 : 0;
  const count = Math.ceil(Math.ceil(length / rangeSize) / streams) * streams;
  return Math.ceil(length / Math.ceil(length / count));
}

export function bytesOf(length: number, seed = 1): Buffer {
  if (length === 0) return Buffer.alloc(0);
  const block = randomBytes(Math.min(length, 64 * KIB));
  const out = Buffer.allocUnsafe(length);
  for (let at = 0; at < length; at += block.length)
    block.copy(out, at, 0, Math.min(block.length, length - at));
  // Make every 4 KiB block unique so shifted or repeated regions cannot verify by accident.
  for (let at = 0; at + 4 <= length; at += 4096) out.writeUInt32LE((at / 4096 + seed * 0x9e3779b1) >>> 0, at);
  return out;
}

/** The one item in the sandbox named `name` (fails the test when there is not exactly one). */
export function itemNamed(env: DataPathEnv, name: string): { id: string; size: number; md5?: string } {
  const found = env.sandbox.items().filter((i) => i.name === name && !i.trashed);
  if (found.length !== 1) throw new Error(`expected one item named ${name}, found ${found.length}`);
  return found[0]!;
}

/** Opens a write handle for `/<name>` in the test folder (on `handles`, default the env's). */
export function openWrite(env: DataPathEnv, name: string, handles = env.handles): Promise<string> {
  return handles.openWrite({ object: env.object, path: `/${name}`, parentId: env.folderId, name });
}

/** A new TransferHandles over the env's current state store, http and pacer, logging to `log`. */
export function handlesLogging(env: DataPathEnv, log: Log): TransferHandles {
  return new TransferHandles({
    config: env.config,
    state: env.state,
    log,
    httpFor: async () => env.http,
    pacer: env.pacer,
  });
}

/** Uploads `pieces` through openWrite/appendFile/closeWrite; returns the fd's WriteResult. */
export async function upload(
  env: DataPathEnv,
  name: string,
  pieces: Uint8Array[],
): Promise<{ size: number; md5: string; sha256: string }> {
  const fd = await openWrite(env, name);
  let n = 0;
  for (const piece of pieces) {
    const path = await localFile(env, `${name}.piece${n++}`, piece);
    await env.handles.appendFile(fd, path);
    await rm(path);
  }
  return env.handles.closeWrite(fd);
}

/** Cuts `bytes` into pieces of the given sizes, cycling through them. */
export function cut(bytes: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const size = sizes[i++ % sizes.length]!;
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

export interface ChildSandbox {
  env: Record<string, string>;
  http: DriveHttp;
  close(): Promise<void>;
}

/**
 * The sandbox in a process of its own (`gdrive-backup sandbox`, built by the global setup), so
 * that this process's RSS is the engine's alone; connected through the OAuth code flow.
 */
export async function startChildSandbox(): Promise<ChildSandbox> {
  const child = spawn(process.execPath, ['bin/gdrive-backup.mjs', 'sandbox'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  try {
    const env: Record<string, string> = {};
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      if (line.trim() === 'ready') break;
      const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (match) env[match[1]!] = match[2]!;
    }
    const client = new OAuth2Client({
      clientId: env.GDRIVE_CLIENT_ID!,
      clientSecret: env.GDRIVE_CLIENT_SECRET!,
      redirectUri: 'http://127.0.0.1:9/callback',
      endpoints: {
        oauth2TokenUrl: env.GDRIVE_OAUTH_TOKEN_URL!,
        oauth2AuthBaseUrl: env.GDRIVE_OAUTH_AUTH_URL!,
      },
      forceRefreshOnFailure: true,
    });
    const consent = client.generateAuthUrl({
      access_type: 'offline',
      prompt: 'consent',
      scope: 'https://www.googleapis.com/auth/drive.file',
      state: 'child-sandbox',
    });
    const answer = await answerConsent(consent);
    if (!('code' in answer)) throw new Error(`the child sandbox refused consent: ${answer.error}`);
    const { tokens } = await client.getToken(answer.code);
    client.setCredentials(tokens);
    return {
      env,
      http: new AuthorizedHttp(client, 'server'),
      async close() {
        child.kill('SIGTERM');
        await exited;
      },
    };
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
}
