/**
 * A strict local stand-in for Google Drive API v3 and Google OAuth2, used by the tests, the
 * demo and `gdrive-backup sandbox`. It speaks the wire protocol of
 * shared/reference/google-drive-facts.md on plain node:http (exact statuses, headers, resets
 * and throttling), keeps file bytes on disk, and refuses what Google refuses, so a client bug
 * fails here before it fails against Google.
 *
 * Route table (under the sandbox's own origin):
 *   GET    o/oauth2/v2/auth                     oauth.authorize
 *   POST   token                                oauth.token
 *   POST   revoke                               oauth.revoke
 *   GET    drive/v3/about                       about.get
 *   POST   drive/v3/files                       files.create
 *   GET    drive/v3/files                       files.list
 *   GET    drive/v3/files/{id}[?alt=media]      files.get / files.download
 *   PATCH  drive/v3/files/{id}                  files.update
 *   DELETE drive/v3/files/{id}                  files.delete
 *   GET    drive/v3/drives/{id}                 drives.get
 *   POST   upload/drive/v3/files?uploadType=multipart|media|resumable   upload.multipart / .media / .start
 *   PATCH  upload/drive/v3/files/{id}?uploadType=multipart|media|resumable   the same, new content for {id}
 *   PUT    upload/drive/v3/files[/{id}]?uploadType=resumable&upload_id=  upload.chunk / upload.status
 *          (POST too: Google's Go client and rclone send chunks as POST, backend/drive/upload.go)
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContentStore } from './content-store.js';
import {
  aboutGet,
  drivesGet,
  filesCreate,
  filesDelete,
  filesDownload,
  filesGet,
  filesList,
  filesUpdate,
} from './drive-endpoints.js';
import { type FaultKind, FaultPlan, REQUEST_KINDS, type RequestKind } from './faults.js';
import {
  DriveError,
  drain,
  type Exchange,
  OAuthError,
  resetMidBody,
  sendError,
  sendJson,
} from './http-io.js';
import { authorize, revoke, token } from './oauth-endpoints.js';
import {
  type Caller,
  FOLDER_MIME,
  quotaExceeded,
  type SandboxCore,
  SandboxState,
  SCOPE_DRIVE_FILE,
  type StoredItem,
} from './sandbox-state.js';
import { Shaping } from './shaping.js';
import {
  expireSession,
  putKind,
  type UploadTarget,
  uploadMedia,
  uploadMultipart,
  uploadPut,
  uploadStart,
} from './upload-endpoints.js';

export type { RequestKind };

export interface SandboxOptions {
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Content dir; default a fresh temp dir removed by close(). */
  dir?: string;
  /** Added before every answer. */
  latencyMs?: number;
  /** Per-connection cap, both directions. */
  bandwidthMbit?: number;
  /**
   * Server time spent on each upload request (upload.*) before its answer, as real Drive
   * spends on every chunk; default 0. Makes request counts cost what they cost on Google.
   */
  uploadRequestMs?: number;
  /**
   * The API root as clients see it, where resumable session URIs point (default the sandbox's
   * own URL). Behind a TLS-terminating proxy for a client with fixed hosts, e.g. rclone:
   * 'https://www.googleapis.com/'.
   */
  publicUrl?: string;
  /** Fault spec, see faults.ts. */
  faults?: string;
  /** Default 3600. */
  accessTokenLifetimeSec?: number;
  /** Default 15 GiB; null = unlimited (no storageQuota.limit). */
  quotaBytes?: number | null;
  /** Default 'sandbox-client.apps.googleusercontent.com'. */
  clientId?: string;
  /** Default 'sandbox-secret'. */
  clientSecret?: string;
  /** Default 'admin@example.com'. */
  userEmail?: string;
  /** Default 'approve'. */
  consent?: 'approve' | 'deny';
  /** Resumable session lifetime, default 7 days. */
  sessionLifetimeSec?: number;
  /** More known OAuth clients (id -> secret), e.g. to prove drive.file isolation between apps. */
  otherClients?: Record<string, string>;
}

/** A stored item as tests see it: `trashed` says whether it is in the trash, itself or by a parent. */
export type SandboxItem = Omit<StoredItem, 'explicitlyTrashed' | 'modifiedTime' | 'isRoot'> & {
  trashed: boolean;
};

export interface Sandbox {
  /** 'http://127.0.0.1:PORT/' */
  readonly url: string;
  readonly env: Record<
    | 'GDRIVE_API_ROOT'
    | 'GDRIVE_OAUTH_AUTH_URL'
    | 'GDRIVE_OAUTH_TOKEN_URL'
    | 'GDRIVE_OAUTH_REVOKE_URL'
    | 'GDRIVE_CLIENT_ID'
    | 'GDRIVE_CLIENT_SECRET',
    string
  >;
  /** Requests received, by kind (faulted ones included). */
  counters(): Record<RequestKind, number>;
  resetCounters(): void;
  /** Replaces all rules; '' clears. Throws on a bad spec. */
  setFaults(spec: string): void;
  setConsent(mode: 'approve' | 'deny'): void;
  setQuota(bytes: number | null): void;
  /** Every issued access token now answers 401. */
  expireAccessTokens(): void;
  /** Every token revoked -> 401 / invalid_grant. */
  revokeAll(): void;
  /** A refresh token as if the consent flow had run (scope default drive.file). */
  issueRefreshToken(options?: { email?: string; scope?: string; clientId?: string }): string;
  /** Returns the shared drive id. */
  createSharedDrive(name: string): string;
  /** Everything stored, trashed included. */
  items(): SandboxItem[];
  /** File with the stored bytes (for tests). */
  contentPath(fileId: string): string;
  /** ASCII tree of My Drive (and shared drives), with sizes. */
  tree(rootName?: string): string;
  close(): Promise<void>;
}

const ERROR_FAULTS: Partial<Record<FaultKind, () => DriveError>> = {
  '500': () => new DriveError(500, 'backendError', 'Internal Error'),
  '503': () => new DriveError(503, 'backendError', 'Service Unavailable'),
  '429': () =>
    new DriveError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', {
      domain: 'usageLimits',
      headers: { 'retry-after': '1' },
    }),
  rate403: () => new DriveError(403, 'rateLimitExceeded', 'Rate Limit Exceeded', { domain: 'usageLimits' }),
  daily403: () =>
    new DriveError(403, 'dailyLimitExceeded', 'Daily Limit Exceeded', { domain: 'usageLimits' }),
  quota403: quotaExceeded,
};

type Handler = (ex: Exchange) => Promise<void>;
interface Route {
  kind: RequestKind;
  handler: Handler;
}

function emptyCounters(): Record<RequestKind, number> {
  return Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
}

/** `publicUrl` as an API root: absolute http(s), ending in '/'. */
function publicRoot(text: string): string {
  const parsed = new URL(text);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new Error(`publicUrl must be an http(s) URL: ${text}`);
  }
  return parsed.href.endsWith('/') ? parsed.href : `${parsed.href}/`;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  // First: a bad fault spec throws before any directory is made or anything listens.
  const faults = new FaultPlan(options.faults ?? '');
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'gdrive-sandbox-')));
  const store = new ContentStore(dir);
  await store.init();
  const state = new SandboxState(
    options.quotaBytes === undefined ? 15 * 1024 ** 3 : options.quotaBytes,
    options.accessTokenLifetimeSec ?? 3600,
  );
  const clientId = options.clientId ?? 'sandbox-client.apps.googleusercontent.com';
  const clientSecret = options.clientSecret ?? 'sandbox-secret';
  const core: SandboxCore = {
    state,
    store,
    config: {
      clientId,
      clientSecret,
      clients: new Map([...Object.entries(options.otherClients ?? {}), [clientId, clientSecret]]),
      userEmail: options.userEmail ?? 'admin@example.com',
      consent: options.consent ?? 'approve',
      sessionLifetimeSec: options.sessionLifetimeSec ?? 7 * 24 * 3600,
      rootUrl: '',
      publicUrl: '',
    },
  };
  const shaping = new Shaping(options.latencyMs ?? 0, options.bandwidthMbit, options.uploadRequestMs ?? 0);
  let counts = emptyCounters();

  const authed =
    (fn: (core: SandboxCore, ex: Exchange, caller: Caller, id: string) => Promise<void>, id = '') =>
    (ex: Exchange) =>
      fn(core, ex, state.authenticate(ex.req.headers.authorization), id);

  function route(req: IncomingMessage, url: URL): Route | null {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/o/oauth2/v2/auth' && method === 'GET') {
      return { kind: 'oauth.authorize', handler: (ex) => authorize(core, ex) };
    }
    if (path === '/token' && method === 'POST')
      return { kind: 'oauth.token', handler: (ex) => token(core, ex) };
    if (path === '/revoke' && method === 'POST')
      return { kind: 'oauth.revoke', handler: (ex) => revoke(core, ex) };
    if (path === '/drive/v3/about' && method === 'GET')
      return { kind: 'about.get', handler: authed(aboutGet) };
    if (path === '/drive/v3/files') {
      if (method === 'GET') return { kind: 'files.list', handler: authed(filesList) };
      if (method === 'POST') return { kind: 'files.create', handler: authed(filesCreate) };
      return null;
    }
    const file = /^\/drive\/v3\/files\/([^/]+)$/.exec(path);
    if (file) {
      const id = decodeURIComponent(file[1]!);
      if (method === 'GET') {
        const alt = url.searchParams.get('alt') ?? 'json';
        if (alt === 'media') return { kind: 'files.download', handler: authed(filesDownload, id) };
        if (alt === 'json') return { kind: 'files.get', handler: authed(filesGet, id) };
        return {
          kind: 'files.get',
          handler: async () => {
            throw new DriveError(400, 'invalidAltParam', `Invalid alt parameter: ${alt}`);
          },
        };
      }
      if (method === 'PATCH') return { kind: 'files.update', handler: authed(filesUpdate, id) };
      if (method === 'DELETE') return { kind: 'files.delete', handler: authed(filesDelete, id) };
      return null;
    }
    const drive = /^\/drive\/v3\/drives\/([^/]+)$/.exec(path);
    if (drive && method === 'GET')
      return { kind: 'drives.get', handler: authed(drivesGet, decodeURIComponent(drive[1]!)) };
    const upload = /^\/upload\/drive\/v3\/files(?:\/([^/]+))?$/.exec(path);
    if (upload) {
      const uploadType = url.searchParams.get('uploadType');
      const session = url.searchParams.has('upload_id');
      if (uploadType === 'resumable' && session && (method === 'PUT' || method === 'POST')) {
        return { kind: putKind(req.headers), handler: authed(uploadPut) };
      }
      const target: UploadTarget = upload[1]
        ? { kind: 'update', id: decodeURIComponent(upload[1]) }
        : { kind: 'create' };
      if (method !== (target.kind === 'update' ? 'PATCH' : 'POST') || session) return null;
      const to =
        (fn: (core: SandboxCore, ex: Exchange, caller: Caller, target: UploadTarget) => Promise<void>) =>
        (ex: Exchange) =>
          fn(core, ex, state.authenticate(ex.req.headers.authorization), target);
      if (uploadType === 'multipart') return { kind: 'upload.multipart', handler: to(uploadMultipart) };
      if (uploadType === 'media') return { kind: 'upload.media', handler: to(uploadMedia) };
      if (uploadType === 'resumable') return { kind: 'upload.start', handler: to(uploadStart) };
    }
    return null;
  }

  async function actOutFault(ex: Exchange, fault: FaultKind): Promise<boolean> {
    const error = ERROR_FAULTS[fault];
    if (error) {
      await drain(ex);
      await sendError(ex, error());
      return true;
    }
    if (fault === 'slow') await sleep(2000);
    if (fault === 'revoke') state.revokeAll();
    if (fault === 'expire') {
      if (ex.kind === 'upload.chunk' || ex.kind === 'upload.status') {
        await expireSession(core, ex.url.searchParams.get('upload_id'));
      } else {
        state.expireAccessTokens();
      }
    }
    if (fault === 'reset' && ex.kind !== 'upload.chunk' && ex.kind !== 'files.download') {
      await resetMidBody(ex);
      return true;
    }
    return false;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', core.config.rootUrl);
    const found = route(req, url);
    const ex: Exchange = {
      req,
      res,
      url,
      kind: found?.kind ?? 'files.get',
      shaper: shaping.forSocket(req.socket),
      socket: req.socket,
      fault: null,
    };
    try {
      if (!found) {
        await drain(ex);
        const upload = url.pathname.startsWith('/upload/drive/v3/files');
        await sendError(
          ex,
          upload
            ? new DriveError(
                400,
                'invalid',
                `Unsupported upload request: ${req.method} ${url.search || '(no uploadType)'}`,
                {
                  location: 'uploadType',
                  locationType: 'parameter',
                },
              )
            : new DriveError(404, 'notFound', `Not Found: ${req.method} ${url.pathname}`),
        );
        return;
      }
      counts[found.kind] += 1;
      if (found.kind.startsWith('upload.')) ex.answerDelayMs = shaping.uploadRequestMs;
      ex.fault = faults.decide(found.kind);
      if (shaping.latencyMs > 0) await sleep(shaping.latencyMs);
      if (ex.fault && (await actOutFault(ex, ex.fault))) return;
      await found.handler(ex);
    } catch (error) {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      if (error instanceof DriveError || error instanceof OAuthError) {
        try {
          await drain(ex);
        } catch {
          res.destroy();
          return;
        }
        await sendError(ex, error);
        return;
      }
      if (req.destroyed || ex.socket.destroyed) return;
      await sendJson(ex, 500, {
        error: { code: 500, message: `Sandbox failure: ${(error as Error).message}`, errors: [] },
      });
    }
  }

  const server: Server = createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  // Big chunks at a low bandwidth cap take long: no whole-request timeout.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${hostForUrl}:${address.port}/`;
  core.config.rootUrl = url;
  core.config.publicUrl = options.publicUrl ? publicRoot(options.publicUrl) : url;

  function publicItem(item: StoredItem): SandboxItem {
    const out: SandboxItem = {
      id: item.id,
      name: item.name,
      mimeType: item.mimeType,
      parents: [...item.parents],
      size: item.size,
      trashed: state.isTrashed(item),
      createdTime: item.createdTime,
      createdByClient: item.createdByClient,
    };
    if (item.md5) out.md5 = item.md5;
    if (item.sha256) out.sha256 = item.sha256;
    if (item.driveId) out.driveId = item.driveId;
    return out;
  }

  function tree(rootName = 'My Drive'): string {
    const lines: string[] = [];
    const children = (id: string): StoredItem[] =>
      [...state.items.values()]
        .filter((i) => i.parents[0] === id)
        .sort((a, b) =>
          a.name < b.name ? -1 : a.name > b.name ? 1 : a.createdTime.localeCompare(b.createdTime),
        );
    const walk = (id: string, indent: string): void => {
      const list = children(id);
      list.forEach((item, index) => {
        const last = index === list.length - 1;
        const folder = item.mimeType === FOLDER_MIME;
        const note = `${folder ? '/' : ` (${item.size} B)`}${state.isTrashed(item) ? ' [trashed]' : ''}`;
        lines.push(`${indent}${last ? '`-- ' : '|-- '}${item.name}${note}`);
        if (folder) walk(item.id, `${indent}${last ? '    ' : '|   '}`);
      });
    };
    lines.push(`${rootName}/`);
    walk(state.rootId, '');
    for (const drive of state.drives.values()) {
      lines.push(`[shared drive] ${drive.name}/`);
      walk(drive.id, '');
    }
    return `${lines.join('\n')}\n`;
  }

  let closed = false;
  return {
    url,
    env: {
      GDRIVE_API_ROOT: url,
      GDRIVE_OAUTH_AUTH_URL: `${url}o/oauth2/v2/auth`,
      GDRIVE_OAUTH_TOKEN_URL: `${url}token`,
      GDRIVE_OAUTH_REVOKE_URL: `${url}revoke`,
      GDRIVE_CLIENT_ID: core.config.clientId,
      GDRIVE_CLIENT_SECRET: core.config.clientSecret,
    },
    counters: () => ({ ...counts }),
    resetCounters: () => {
      counts = emptyCounters();
    },
    setFaults: (spec) => faults.set(spec),
    setConsent: (mode) => {
      core.config.consent = mode;
    },
    setQuota: (bytes) => {
      state.quotaBytes = bytes;
    },
    expireAccessTokens: () => state.expireAccessTokens(),
    revokeAll: () => state.revokeAll(),
    issueRefreshToken: (opts = {}) => {
      const email = opts.email ?? core.config.userEmail;
      const scopes = (opts.scope ?? SCOPE_DRIVE_FILE).trim().split(/\s+/);
      const client = opts.clientId ?? core.config.clientId;
      if (!core.config.clients.has(client)) throw new Error(`Unknown OAuth client ${client}`);
      state.consented.add(`${email} ${client}`);
      return state.issueRefreshToken(client, scopes, email).token;
    },
    createSharedDrive: (name) => state.createSharedDrive(name),
    items: () => [...state.items.values()].filter((i) => !i.isRoot).map(publicItem),
    contentPath: (fileId) => store.contentPath(fileId),
    tree,
    close: async () => {
      if (closed) return;
      closed = true;
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
      for (const session of state.sessions.values()) await session.writer?.close();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
