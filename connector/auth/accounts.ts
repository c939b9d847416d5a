/**
 * Connected accounts: per object, the refresh token (secrets store), the account record
 * (state store) and one live OAuth2Client whose DriveHttp every Drive request of that object
 * uses. Access tokens stay in memory: a new process refreshes once, which is cheaper than
 * keeping short-lived bearer tokens on disk.
 */
import type { Credentials, OAuth2Client } from 'google-auth-library';
import type { Keyv } from 'keyv';
import type { Config } from '../config/config.js';
import { AuthorizedHttp, type RequestCounter } from '../drive/authorized-http.js';
import type { DriveHttp } from '../drive/drive-http.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import { formatObjectRef, type ObjectRef } from '../transport/object-ref.js';
import { newOAuthClient } from './oauth-client.js';

export interface AccountRecord {
  email: string;
  /** Folder name of the object given at connect time (domain name, client login). */
  objectName?: string;
  /** The object's own root folder setting; absent = config.rootFolder. */
  folder?: string;
  connectedAt: string;
}

export interface AccountsDeps {
  config: Config;
  secrets: Keyv;
  state: Keyv;
  log: Log;
  counter: RequestCounter;
  /** Called after each access token refresh (connector/activity.ts records when). */
  onTokenRefresh?: (object: ObjectRef) => void;
}

const tokenKey = (object: ObjectRef) => `refresh-token:${formatObjectRef(object)}`;
const accountKey = (object: ObjectRef) => `account:${formatObjectRef(object)}`;

interface Session {
  client: OAuth2Client;
  http: DriveHttp;
}

export class Accounts {
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(private readonly deps: AccountsDeps) {}

  async refreshToken(object: ObjectRef): Promise<string | undefined> {
    const token: unknown = await secretsCall(() => this.deps.secrets.get(tokenKey(object)));
    return typeof token === 'string' && token !== '' ? token : undefined;
  }

  async record(object: ObjectRef): Promise<AccountRecord | undefined> {
    return (await this.deps.state.get<AccountRecord>(accountKey(object))) ?? undefined;
  }

  async isConnected(object: ObjectRef): Promise<boolean> {
    return (await this.refreshToken(object)) !== undefined;
  }

  /** Stores a new connection; `credentials` (the fresh access token) seed the live client. */
  async save(
    object: ObjectRef,
    credentials: Credentials & { refresh_token: string },
    record: AccountRecord,
  ): Promise<void> {
    this.sessions.delete(formatObjectRef(object));
    await this.storeToken(object, credentials.refresh_token);
    await this.deps.state.set(accountKey(object), record);
    this.sessions.set(formatObjectRef(object), Promise.resolve(this.newSession(object, credentials)));
  }

  async forget(object: ObjectRef): Promise<void> {
    this.sessions.delete(formatObjectRef(object));
    await this.deps.secrets.delete(tokenKey(object));
    await this.deps.state.delete(accountKey(object));
  }

  /** The object's authenticated client; not_connected when no refresh token is stored. */
  async clientFor(object: ObjectRef): Promise<OAuth2Client> {
    return (await this.session(object)).client;
  }

  async httpFor(object: ObjectRef): Promise<DriveHttp> {
    return (await this.session(object)).http;
  }

  private session(object: ObjectRef): Promise<Session> {
    const key = formatObjectRef(object);
    let session = this.sessions.get(key);
    if (!session) {
      session = this.openSession(object);
      this.sessions.set(key, session);
      // A failed open (not connected yet) must not stick: the next call looks again.
      session.catch(() => {
        if (this.sessions.get(key) === session) this.sessions.delete(key);
      });
    }
    return session;
  }

  private async openSession(object: ObjectRef): Promise<Session> {
    const name = formatObjectRef(object);
    const refreshToken = await this.refreshToken(object);
    if (refreshToken === undefined) throw new GdriveBackupError('not_connected', { object: name });
    return this.newSession(object, { refresh_token: refreshToken });
  }

  private newSession(object: ObjectRef, credentials: Credentials & { refresh_token: string }): Session {
    const name = formatObjectRef(object);
    const refreshToken = credentials.refresh_token;
    const client = newOAuthClient(this.deps.config, this.deps.counter);
    client.setCredentials(credentials);
    client.on('tokens', (tokens) => {
      this.deps.onTokenRefresh?.(object);
      // Google may rotate the refresh token; the access token stays in memory only.
      if (tokens.refresh_token && tokens.refresh_token !== refreshToken) {
        this.storeToken(object, tokens.refresh_token).catch((error: unknown) =>
          this.deps.log.error('could not store the rotated refresh token', {
            object: name,
            detail: (error as Error).message,
          }),
        );
      }
    });
    return { client, http: new AuthorizedHttp(client, name) };
  }

  private async storeToken(object: ObjectRef, refreshToken: string): Promise<void> {
    await secretsCall(() => this.deps.secrets.set(tokenKey(object), refreshToken));
  }
}

/** Runs a secrets-store call; a failure of the store itself becomes secrets_unavailable. */
async function secretsCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GdriveBackupError) throw error;
    throw new GdriveBackupError('secrets_unavailable', { detail: (error as Error).message });
  }
}
