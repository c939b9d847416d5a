/**
 * Everything the sandbox remembers: items (files, folders, roots of My Drive and of shared
 * drives), OAuth codes and tokens, resumable upload sessions. Endpoints read and change it;
 * the programmatic API of drive-sandbox.ts exposes it to tests.
 */
import { randomBytes } from 'node:crypto';
import type { HashingWriter } from './content-store.js';
import { DriveError, notFound } from './http-io.js';

export const FOLDER_MIME = 'application/vnd.google-apps.folder';
export const SCOPE_DRIVE = 'https://www.googleapis.com/auth/drive';
export const SCOPE_DRIVE_FILE = 'https://www.googleapis.com/auth/drive.file';
export const SCOPE_DRIVE_READONLY = 'https://www.googleapis.com/auth/drive.readonly';
export const KNOWN_SCOPES = new Set([
  SCOPE_DRIVE,
  SCOPE_DRIVE_FILE,
  SCOPE_DRIVE_READONLY,
  'https://www.googleapis.com/auth/drive.metadata.readonly',
  'https://www.googleapis.com/auth/userinfo.email',
  'https://www.googleapis.com/auth/userinfo.profile',
  'openid',
  'email',
  'profile',
]);

export interface StoredItem {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  size: number;
  md5?: string;
  sha256?: string;
  /** Trashed itself (children of a trashed folder are trashed implicitly). */
  explicitlyTrashed: boolean;
  createdTime: string;
  modifiedTime: string;
  /** Set for items in a shared drive (and the drive's root, whose id is the drive id). */
  driveId?: string;
  createdByClient: string;
  /** Root of My Drive or of a shared drive. */
  isRoot: boolean;
}

export interface SharedDrive {
  id: string;
  name: string;
  createdTime: string;
}

export interface AuthCode {
  code: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  email: string;
  challenge?: string;
  offline: boolean;
  /** A refresh token is handed out on first consent or with prompt=consent, as Google does. */
  giveRefreshToken: boolean;
  issuedAt: number;
  used: boolean;
}

export interface RefreshGrant {
  token: string;
  clientId: string;
  scopes: string[];
  email: string;
  revoked: boolean;
}

export interface AccessGrant {
  token: string;
  clientId: string;
  scopes: string[];
  email: string;
  expiresAt: number;
  refreshToken?: string;
  revoked: boolean;
}

/** Who is calling, from a live access token. */
export interface Caller {
  email: string;
  clientId: string;
  /** `full`: scope drive; `file`: drive.file; `readonly`: drive.readonly. */
  access: 'full' | 'file' | 'readonly';
}

export interface UploadSession {
  id: string;
  email: string;
  clientId: string;
  access: Caller['access'];
  name: string;
  mimeType: string;
  parentId: string;
  driveId?: string;
  fields: string | null;
  supportsAllDrives: boolean;
  declaredLength?: number;
  /** Total as named by a chunk's Content-Range, once known. */
  total?: number;
  writer: HashingWriter | null;
  expiresAt: number;
  /** The file made (or whose content was replaced) when the upload finished. */
  fileId?: string;
  /** A session of `PATCH upload/drive/v3/files/{id}`: the file whose content it replaces. */
  target?: { id: string; body: Record<string, unknown>; params: string };
  /** The client's modifiedTime for a new file. */
  modifiedTime?: string;
  /** Serialises PUTs on one session. */
  lock: Promise<void>;
}

export function randomId(bytes = 21): string {
  return randomBytes(bytes).toString('base64url');
}

let lastStamp = 0;

/** ISO time, strictly increasing within the process, so createdTime orders items as they were made. */
export function timestamp(): string {
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  return new Date(lastStamp).toISOString();
}

export class SandboxState {
  readonly items = new Map<string, StoredItem>();
  readonly drives = new Map<string, SharedDrive>();
  readonly codes = new Map<string, AuthCode>();
  readonly refreshTokens = new Map<string, RefreshGrant>();
  readonly accessTokens = new Map<string, AccessGrant>();
  readonly sessions = new Map<string, UploadSession>();
  /** `email client` pairs that consented once. */
  readonly consented = new Set<string>();
  readonly rootId: string;

  constructor(
    public quotaBytes: number | null,
    readonly accessTokenLifetimeSec: number,
  ) {
    this.rootId = this.addRoot('My Drive', false).id;
  }

  /** A shared drive: its entry and its root folder, whose id is the drive id. Returns the id. */
  createSharedDrive(name: string): string {
    const root = this.addRoot(name, true);
    this.drives.set(root.id, { id: root.id, name, createdTime: root.createdTime });
    return root.id;
  }

  private addRoot(name: string, sharedDrive: boolean): StoredItem {
    const id = `0A${randomId(12)}Uk9PVA`;
    const now = timestamp();
    const root: StoredItem = {
      id,
      name,
      mimeType: FOLDER_MIME,
      parents: [],
      size: 0,
      explicitlyTrashed: false,
      createdTime: now,
      modifiedTime: now,
      createdByClient: '',
      isRoot: true,
    };
    if (sharedDrive) root.driveId = id;
    this.items.set(id, root);
    return root;
  }

  // --- tokens

  issueAccessToken(grant: {
    clientId: string;
    scopes: string[];
    email: string;
    refreshToken?: string;
  }): AccessGrant {
    const access: AccessGrant = {
      token: `ya29.sandbox-${randomId(24)}`,
      clientId: grant.clientId,
      scopes: grant.scopes,
      email: grant.email,
      expiresAt: Date.now() + this.accessTokenLifetimeSec * 1000,
      revoked: false,
    };
    if (grant.refreshToken) access.refreshToken = grant.refreshToken;
    this.accessTokens.set(access.token, access);
    return access;
  }

  issueRefreshToken(clientId: string, scopes: string[], email: string): RefreshGrant {
    const grant: RefreshGrant = {
      token: `1//sandbox-${randomId(32)}`,
      clientId,
      scopes,
      email,
      revoked: false,
    };
    this.refreshTokens.set(grant.token, grant);
    return grant;
  }

  revokeRefreshToken(token: string): void {
    const grant = this.refreshTokens.get(token);
    if (grant) grant.revoked = true;
    for (const access of this.accessTokens.values()) if (access.refreshToken === token) access.revoked = true;
  }

  revokeAll(): void {
    for (const g of this.refreshTokens.values()) g.revoked = true;
    for (const g of this.accessTokens.values()) g.revoked = true;
  }

  expireAccessTokens(): void {
    const past = Date.now() - 1;
    for (const g of this.accessTokens.values()) g.expiresAt = Math.min(g.expiresAt, past);
  }

  /** Checks `Authorization: Bearer <token>`; 401 in Google's shape otherwise. */
  authenticate(header: string | undefined): Caller {
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const fail = (message: string): DriveError =>
      new DriveError(401, 'authError', message, {
        location: 'Authorization',
        locationType: 'header',
        headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
      });
    if (!m) {
      throw fail(
        'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    const grant = this.accessTokens.get(m[1]!);
    if (!grant || grant.revoked || grant.expiresAt <= Date.now()) {
      throw fail(
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    const access = grant.scopes.includes(SCOPE_DRIVE)
      ? 'full'
      : grant.scopes.includes(SCOPE_DRIVE_FILE)
        ? 'file'
        : grant.scopes.includes(SCOPE_DRIVE_READONLY)
          ? 'readonly'
          : null;
    if (access === null) {
      throw new DriveError(
        403,
        'insufficientPermissions',
        'Request had insufficient authentication scopes.',
        {
          statusText: 'PERMISSION_DENIED',
        },
      );
    }
    return { email: grant.email, clientId: grant.clientId, access };
  }

  // --- items

  resolveId(id: string): string {
    return id === 'root' ? this.rootId : id;
  }

  isTrashed(item: StoredItem): boolean {
    let at: StoredItem | undefined = item;
    for (let depth = 0; at && depth < 1000; depth += 1) {
      if (at.explicitlyTrashed) return true;
      const parent: string | undefined = at.parents[0];
      at = parent ? this.items.get(parent) : undefined;
    }
    return false;
  }

  visibleTo(caller: Caller, item: StoredItem): boolean {
    if (item.isRoot || caller.access !== 'file') return true;
    return item.createdByClient === caller.clientId;
  }

  /**
   * The item `id` as `caller` may see it, or Google's 404. Shared-drive items need
   * supportsAllDrives=true, or they do not exist for the caller.
   */
  findItem(caller: Caller, id: string, supportsAllDrives: boolean): StoredItem {
    const item = this.items.get(this.resolveId(id));
    if (!item || !this.visibleTo(caller, item) || (item.driveId && !supportsAllDrives)) {
      throw notFound('File', id);
    }
    return item;
  }

  requireWrite(caller: Caller): void {
    if (caller.access === 'readonly') {
      throw new DriveError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.');
    }
  }

  descendants(id: string): StoredItem[] {
    const out: StoredItem[] = [];
    const queue = [id];
    while (queue.length > 0) {
      const parent = queue.shift()!;
      for (const item of this.items.values()) {
        if (item.parents[0] === parent) {
          out.push(item);
          queue.push(item.id);
        }
      }
    }
    return out;
  }

  /** Bytes counted against the user's quota (My Drive only; shared drives have their own). */
  usage(): { usage: number; trash: number } {
    let usage = 0;
    let trash = 0;
    for (const item of this.items.values()) {
      if (item.driveId) continue;
      usage += item.size;
      if (this.isTrashed(item)) trash += item.size;
    }
    for (const session of this.sessions.values()) {
      if (!session.fileId && !session.driveId) usage += session.writer?.length ?? 0;
    }
    return { usage, trash };
  }

  /** 403 storageQuotaExceeded when `extra` more bytes in My Drive would not fit. */
  checkQuota(extra: number, driveId: string | undefined): void {
    if (driveId || this.quotaBytes === null || extra <= 0) return;
    if (this.usage().usage + extra > this.quotaBytes) throw quotaExceeded();
  }
}

export function quotaExceeded(): DriveError {
  return new DriveError(403, 'storageQuotaExceeded', "The user's Drive storage quota has been exceeded.", {
    domain: 'usageLimits',
  });
}

/** What the endpoints are handed: the state, the bytes, and the settings that can change at run time. */
export interface SandboxCore {
  readonly state: SandboxState;
  readonly store: import('./content-store.js').ContentStore;
  readonly config: {
    clientId: string;
    clientSecret: string;
    /** Every known OAuth client, id -> secret (the main one included). */
    clients: Map<string, string>;
    userEmail: string;
    consent: 'approve' | 'deny';
    sessionLifetimeSec: number;
    /** 'http://127.0.0.1:PORT/' once listening. */
    rootUrl: string;
    /** The API root clients see (session URIs point there); rootUrl unless told otherwise. */
    publicUrl: string;
  };
}
