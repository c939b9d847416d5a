/**
 * Connected accounts. Google keeps one grant per Google account and OAuth client: revoking any
 * of its tokens ends all of them, and it keeps at most 100 live refresh tokens per grant
 * (shared/reference/google-drive-facts.md). So refresh tokens are kept per Google account, and
 * objects link to an account:
 *
 * - state `account:<object>`: the object's record (e-mail, folder, ...) and `grant`, its link;
 * - state `grants`: per account, its e-mail and the objects linked to it;
 * - secrets `grant:<account>`: the account's one refresh token (the stores see opaque keys).
 *
 * Every object of one account shares one OAuth2Client, so a refresh or a rotated refresh token
 * serves them all. A grant is revoked at Google only when its last object goes (the caller
 * does it with the token forget()/save() hand back). Access tokens stay in memory: a new
 * process refreshes once, which is cheaper than keeping short-lived bearer tokens on disk.
 *
 * Data dirs written before this kept `refresh-token:<object>` per object; such an object is
 * moved onto its account the first time its token is read.
 */
import type { Credentials, OAuth2Client } from 'google-auth-library';
import type { Keyv } from 'keyv';
import type { Config } from '../config/config.js';
import { formatObjectRef, type ObjectRef, parseObjectRef } from '../core/object-ref.js';
import { AuthorizedHttp, type RequestCounter } from '../drive/authorized-http.js';
import type { DriveHttp } from '../drive/drive-http.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import { newOAuthClient } from './oauth-client.js';

export interface AccountRecord {
  email: string;
  /** Folder name of the object given at connect time (domain name, client login). */
  objectName?: string;
  /** The object's own root folder setting; absent = config.rootFolder. */
  folder?: string;
  connectedAt: string;
  /** The Google account (grant) the object uses: the key of its refresh token. */
  grant?: string;
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

interface GrantEntry {
  email: string;
  /** Objects linked to this account, as formatObjectRef writes them. */
  objects: string[];
  /**
   * An object connected by an older version was moved here: other objects of that version may
   * still hold their own token of this grant unseen, so the grant is never revoked for them.
   */
  legacy?: boolean;
}

type GrantIndex = Record<string, GrantEntry>;

const GRANTS_KEY = 'grants';
const accountKey = (object: string) => `account:${object}`;
const grantTokenKey = (grant: string) => `grant:${grant}`;
const legacyTokenKey = (object: string) => `refresh-token:${object}`;

/**
 * The account key: the e-mail, as Google treats addresses, case-insensitively. Without an
 * e-mail (Drive named none) the object keeps a grant of its own.
 */
export function grantIdFor(email: string, object: string): string {
  const address = email.trim().toLowerCase();
  return address === '' ? `object:${object}` : address;
}

interface Session {
  http: DriveHttp;
  client: OAuth2Client;
}

export class Accounts {
  /** One live client per account, shared by its objects. */
  private readonly clients = new Map<string, OAuth2Client>();
  private readonly sessions = new Map<string, Promise<Session>>();
  /** Link changes (connect, disconnect, migration) one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: AccountsDeps) {}

  /** The refresh token of the object's account; undefined when not connected. */
  async refreshToken(object: ObjectRef): Promise<string | undefined> {
    const grant = await this.grantOf(formatObjectRef(object));
    return grant === undefined ? undefined : this.grantToken(grant);
  }

  async record(object: ObjectRef): Promise<AccountRecord | undefined> {
    return (await this.deps.state.get<AccountRecord>(accountKey(formatObjectRef(object)))) ?? undefined;
  }

  async isConnected(object: ObjectRef): Promise<boolean> {
    return (await this.refreshToken(object)) !== undefined;
  }

  /** The objects linked to the same Google account as `object` (itself included). */
  async objectsSharing(object: ObjectRef): Promise<string[]> {
    const grant = await this.grantOf(formatObjectRef(object));
    if (grant === undefined) return [];
    return [...((await this.index())[grant]?.objects ?? [])];
  }

  /**
   * Links `object` to the account of `record.email` with a new consent's tokens. The account's
   * stored refresh token is replaced, never revoked: revoking it would end the new one too.
   * Returns the refresh token of an account the object left and no object uses any more: the
   * caller revokes it at Google.
   */
  save(
    object: ObjectRef,
    credentials: Credentials & { refresh_token: string },
    record: AccountRecord,
  ): Promise<string | undefined> {
    const name = formatObjectRef(object);
    return this.exclusive(async () => {
      await this.migrate(name);
      const grant = grantIdFor(record.email, name);
      const previous = await this.linkOf(name);
      await this.secretsCall(() => this.deps.secrets.set(grantTokenKey(grant), credentials.refresh_token));
      const index = await this.index();
      const entry = index[grant] ?? { email: record.email, objects: [] };
      index[grant] = { ...entry, email: record.email, objects: [...new Set([...entry.objects, name])] };
      await this.deps.state.set(GRANTS_KEY, index);
      await this.deps.state.set(accountKey(name), { ...record, grant });
      const orphaned =
        previous !== undefined && previous !== grant ? await this.unlink(name, previous) : undefined;
      // Every object of the account follows the new token; its client is seeded with the
      // fresh access token.
      this.dropGrant(grant);
      this.clients.set(grant, this.newClient(grant, credentials));
      return orphaned;
    });
  }

  /**
   * Unlinks `object` from its account and forgets its record. Returns the account's refresh
   * token when no object uses it any more: the caller revokes it at Google.
   */
  forget(object: ObjectRef): Promise<string | undefined> {
    const name = formatObjectRef(object);
    return this.exclusive(async () => {
      await this.migrate(name);
      const grant = await this.linkOf(name);
      await this.deps.state.delete(accountKey(name));
      this.sessions.delete(name);
      return grant === undefined ? undefined : this.unlink(name, grant);
    });
  }

  /** The object's authenticated client; not_connected when its account has no refresh token. */
  async clientFor(object: ObjectRef): Promise<OAuth2Client> {
    return (await this.session(object)).client;
  }

  async httpFor(object: ObjectRef): Promise<DriveHttp> {
    return (await this.session(object)).http;
  }

  // --- links

  /** The object's account, after moving an object of an older version onto one. */
  private async grantOf(name: string): Promise<string | undefined> {
    const linked = await this.linkOf(name);
    if (linked !== undefined) return linked;
    const legacy = await this.secretsCall(() => this.deps.secrets.get(legacyTokenKey(name)));
    if (typeof legacy !== 'string' || legacy === '') return undefined;
    return this.exclusive(() => this.migrate(name));
  }

  private async linkOf(name: string): Promise<string | undefined> {
    const record = await this.deps.state.get<AccountRecord>(accountKey(name));
    return typeof record?.grant === 'string' && record.grant !== '' ? record.grant : undefined;
  }

  /**
   * Moves an object with its own `refresh-token:<object>` onto its account (run inside
   * exclusive()). When the account already has a token, that one stays: both belong to the same
   * grant, and revoking the other would end both. Order: token, index, record, then the old
   * entry, so a crash part-way leaves something that still works and is migrated again.
   */
  private async migrate(name: string): Promise<string | undefined> {
    const linked = await this.linkOf(name);
    if (linked !== undefined) return linked;
    const legacy = await this.secretsCall(() => this.deps.secrets.get(legacyTokenKey(name)));
    if (typeof legacy !== 'string' || legacy === '') return undefined;
    const record = await this.deps.state.get<AccountRecord>(accountKey(name));
    const email = record?.email ?? '';
    const grant = grantIdFor(email, name);
    if ((await this.grantToken(grant)) === undefined) {
      await this.secretsCall(() => this.deps.secrets.set(grantTokenKey(grant), legacy));
    }
    const index = await this.index();
    const entry = index[grant] ?? { email, objects: [] };
    index[grant] = { ...entry, objects: [...new Set([...entry.objects, name])], legacy: true };
    await this.deps.state.set(GRANTS_KEY, index);
    await this.deps.state.set(accountKey(name), {
      email,
      connectedAt: new Date().toISOString(),
      ...record,
      grant,
    } satisfies AccountRecord);
    await this.secretsCall(() => this.deps.secrets.delete(legacyTokenKey(name)));
    this.deps.log.info('moved a connection onto its Google account', { object: name, account: email });
    return grant;
  }

  /**
   * Takes `name` off `grant` (inside exclusive()). When no other object links to it, the
   * account and its token are forgotten and the token is returned for revocation, unless
   * objects of an older version may still use it unseen.
   */
  private async unlink(name: string, grant: string): Promise<string | undefined> {
    const index = await this.index();
    const entry = index[grant];
    const others: string[] = [];
    // The records are the truth: an index entry whose record links elsewhere is stale.
    for (const other of entry?.objects ?? []) {
      if (other !== name && (await this.linkOf(other)) === grant) others.push(other);
    }
    if (entry && others.length > 0) {
      index[grant] = { ...entry, objects: others };
      await this.deps.state.set(GRANTS_KEY, index);
      return undefined;
    }
    const token = await this.grantToken(grant);
    delete index[grant];
    await this.deps.state.set(GRANTS_KEY, index);
    await this.secretsCall(() => this.deps.secrets.delete(grantTokenKey(grant)));
    this.dropGrant(grant);
    if (entry?.legacy) {
      this.deps.log.warn('not revoking the Google grant: objects connected by an older version may use it', {
        object: name,
      });
      return undefined;
    }
    return token;
  }

  private async index(): Promise<GrantIndex> {
    const index = await this.deps.state.get<GrantIndex>(GRANTS_KEY);
    return index && typeof index === 'object' ? { ...index } : {};
  }

  private async grantToken(grant: string): Promise<string | undefined> {
    const token: unknown = await this.secretsCall(() => this.deps.secrets.get(grantTokenKey(grant)));
    return typeof token === 'string' && token !== '' ? token : undefined;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // --- live clients

  private session(object: ObjectRef): Promise<Session> {
    const name = formatObjectRef(object);
    let session = this.sessions.get(name);
    if (!session) {
      session = this.openSession(name);
      this.sessions.set(name, session);
      // A failed open (not connected yet) must not stick: the next call looks again.
      session.catch(() => {
        if (this.sessions.get(name) === session) this.sessions.delete(name);
      });
    }
    return session;
  }

  private async openSession(name: string): Promise<Session> {
    const grant = await this.grantOf(name);
    const refreshToken = grant === undefined ? undefined : await this.grantToken(grant);
    if (grant === undefined || refreshToken === undefined) {
      throw new GdriveBackupError('not_connected', { object: name });
    }
    let client = this.clients.get(grant);
    if (!client) {
      client = this.newClient(grant, { refresh_token: refreshToken });
      this.clients.set(grant, client);
    }
    return { client, http: new AuthorizedHttp(client, name) };
  }

  /**
   * Retires the account's live client. Object sessions are cheap to open again (two store
   * reads), so all of them go rather than tracking which ones still open on it.
   */
  private dropGrant(grant: string): void {
    this.clients.delete(grant);
    this.sessions.clear();
  }

  private newClient(grant: string, credentials: Credentials & { refresh_token: string }): OAuth2Client {
    let refreshToken = credentials.refresh_token;
    const client = newOAuthClient(this.deps.config, this.deps.counter);
    client.setCredentials(credentials);
    client.on('tokens', (tokens) => {
      // Google may rotate the refresh token; the access token stays in memory only. A retired
      // client (account forgotten or reconnected) stores nothing.
      if (this.clients.get(grant) !== client) return;
      const refreshed = this.deps.onTokenRefresh;
      if (refreshed)
        this.index().then(
          (index) => {
            for (const object of index[grant]?.objects ?? []) {
              try {
                refreshed(parseObjectRef(object));
              } catch {
                // A name this version no longer accepts: nothing to record it under.
              }
            }
          },
          () => undefined,
        );
      if (tokens.refresh_token && tokens.refresh_token !== refreshToken) {
        refreshToken = tokens.refresh_token;
        this.secretsCall(() => this.deps.secrets.set(grantTokenKey(grant), tokens.refresh_token)).catch(
          (error: unknown) =>
            this.deps.log.error('could not store the rotated refresh token', {
              detail: (error as Error).message,
            }),
        );
      }
    });
    return client;
  }

  /** Runs a secrets-store call; a failure of the store itself becomes secrets_unavailable. */
  private async secretsCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof GdriveBackupError) throw error;
      throw new GdriveBackupError('secrets_unavailable', { detail: (error as Error).message });
    }
  }
}
