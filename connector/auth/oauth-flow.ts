/**
 * The OAuth2 authorization-code flow with PKCE for one object.
 *
 * start() remembers a random `state` (single use, 10 minutes) with the PKCE verifier, the
 * redirect URI and the object in the state store and returns Google's consent URL
 * (`access_type=offline` + `prompt=consent`, or Google sends no refresh token on a second
 * consent). finish() accepts the answer only for that state and object, exchanges the code,
 * reads the account's e-mail and stores the refresh token (secrets) and the account record
 * (state). Codes, tokens and the client secret never reach logs or error texts.
 */
import { randomBytes } from 'node:crypto';
import { CodeChallengeMethod } from 'google-auth-library';
import type { Keyv } from 'keyv';
import type { Config } from '../config/config.js';
import { formatObjectRef, type ObjectRef } from '../core/object-ref.js';
import type { OAuthFinishInput, OAuthOperations, OAuthStartInput } from '../core/types.js';
import { AuthorizedHttp, type RequestCounter } from '../drive/authorized-http.js';
import { DriveApi } from '../drive/drive-api.js';
import { parseRootSetting } from '../drive/folders.js';
import { failureFromError, isRetryable, type Pacer } from '../drive/retry.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import type { Accounts } from './accounts.js';
import { assertClientConfigured, DRIVE_SCOPES, newOAuthClient } from './oauth-client.js';

export const STATE_TTL_MS = 10 * 60 * 1000;

interface PendingConsent {
  object: string;
  verifier: string;
  redirectUri: string;
  name?: string;
  folder?: string;
  createdAt: number;
}

export interface OAuthFlowDeps {
  config: Config;
  state: Keyv;
  accounts: Accounts;
  pacer: Pacer;
  counter: RequestCounter;
  log: Log;
  /** Clock for the state's lifetime (tests move it). */
  now?: () => number;
  /** Called after an object's account changed (connected anew or disconnected). */
  onAccountChanged?: (object: ObjectRef) => Promise<void>;
}

const stateKey = (state: string) => `oauth-state:${state}`;

export class OAuthFlow implements OAuthOperations {
  private readonly now: () => number;

  constructor(private readonly deps: OAuthFlowDeps) {
    this.now = deps.now ?? Date.now;
  }

  async start(object: ObjectRef, input: OAuthStartInput): Promise<{ url: string }> {
    const { config } = this.deps;
    assertClientConfigured(config);
    if (!isHttpUrl(input.redirectUri)) {
      throw new GdriveBackupError('bad_request', { detail: 'redirectUri must be an http(s) URL' });
    }
    if (input.folder !== undefined) parseRootSetting(input.folder);
    const client = newOAuthClient(config, this.deps.counter, input.redirectUri);
    const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
    const state = randomBytes(32).toString('base64url');
    const pending: PendingConsent = {
      object: formatObjectRef(object),
      verifier: codeVerifier,
      redirectUri: input.redirectUri,
      createdAt: this.now(),
      ...(input.name ? { name: input.name } : {}),
      ...(input.folder ? { folder: input.folder } : {}),
    };
    await this.deps.state.set(stateKey(state), pending, STATE_TTL_MS);
    const url = client.generateAuthUrl({
      access_type: 'offline',
      prompt: 'consent',
      scope: [DRIVE_SCOPES[config.scope]],
      state,
      redirect_uri: input.redirectUri,
      code_challenge_method: CodeChallengeMethod.S256,
      code_challenge: codeChallenge!,
    });
    return { url };
  }

  async finish(object: ObjectRef, input: OAuthFinishInput): Promise<{ email: string }> {
    const { config, log } = this.deps;
    assertClientConfigured(config);
    const pending = await this.takeState(object, input.state);
    if ('error' in input) {
      // Only Google's error code words reach the sentence, never free text from the URL.
      const reason =
        String(input.error)
          .replace(/[^a-z_]/gi, '')
          .slice(0, 60) || 'no reason given';
      throw new GdriveBackupError('oauth_denied', { reason });
    }
    const client = newOAuthClient(config, this.deps.counter, pending.redirectUri);
    const name = formatObjectRef(object);
    const tokens = await this.deps.pacer.run('oauth.token', { object: name }, async () => {
      try {
        const answer = await client.getToken({
          code: input.code,
          codeVerifier: pending.verifier,
          redirect_uri: pending.redirectUri,
        });
        return answer.tokens;
      } catch (error) {
        const failure = failureFromError(error);
        if (failure && isRetryable(failure)) throw error;
        const reason = failure?.reason ?? (failure?.status ? `HTTP ${failure.status}` : 'no answer');
        throw new GdriveBackupError('oauth_exchange_failed', { reason });
      }
    });
    if (!tokens.refresh_token) {
      throw new GdriveBackupError('oauth_exchange_failed', { reason: 'Google sent no refresh token' });
    }
    client.setCredentials(tokens);
    const api = new DriveApi(new AuthorizedHttp(client, name), this.deps.pacer, config, log, name);
    const email = await api.email();
    // A new consent for an account already linked replaces its token (revoking the old one
    // would end the new one too); an account the object left without other objects is revoked.
    const orphaned = await this.deps.accounts.save(
      object,
      { ...tokens, refresh_token: tokens.refresh_token },
      {
        email,
        connectedAt: new Date(this.now()).toISOString(),
        ...(pending.name ? { objectName: pending.name } : {}),
        ...(pending.folder ? { folder: pending.folder } : {}),
      },
    );
    if (orphaned !== undefined) await this.revokeAtGoogle(orphaned, name);
    await this.deps.onAccountChanged?.(object);
    log.info('Google Drive connected', { object: name, email });
    return { email };
  }

  /**
   * Unlinks the object from its Google account; the grant is revoked at Google only when no
   * other object uses that account (revoking any token ends every token of the grant).
   */
  async disconnect(object: ObjectRef): Promise<void> {
    const name = formatObjectRef(object);
    const orphaned = await this.deps.accounts.forget(object);
    if (orphaned !== undefined) await this.revokeAtGoogle(orphaned, name);
    await this.deps.onAccountChanged?.(object);
    this.deps.log.info('Google Drive disconnected', { object: name, revoked: orphaned !== undefined });
  }

  /** Best effort: the token is forgotten here anyway, and Google drops unused grants. */
  private async revokeAtGoogle(token: string, name: string): Promise<void> {
    if (!this.deps.config.clientId || !this.deps.config.clientSecret) return;
    try {
      const client = newOAuthClient(this.deps.config, this.deps.counter);
      // In the form body, not in the query as OAuth2Client.revokeToken() puts it: a URL
      // travels into network error messages, and from there into logs.
      await this.deps.pacer.run('oauth.revoke', { object: name }, () =>
        client.transporter.request({
          url: this.deps.config.oauthRevokeUrl,
          method: 'POST',
          data: new URLSearchParams({ token }),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      );
    } catch (error) {
      this.deps.log.warn('could not revoke the token at Google; forgetting it anyway', {
        object: name,
        detail: error instanceof GdriveBackupError ? error.code : 'request failed',
      });
    }
  }

  /** The pending consent of `state`, consumed; oauth_state_invalid for anything else. */
  private async takeState(object: ObjectRef, state: unknown): Promise<PendingConsent> {
    if (typeof state !== 'string' || !/^[A-Za-z0-9_-]{20,100}$/.test(state)) {
      throw new GdriveBackupError('oauth_state_invalid');
    }
    const key = stateKey(state);
    const pending = await this.deps.state.get<PendingConsent>(key);
    if (!pending) throw new GdriveBackupError('oauth_state_invalid');
    // Single use: whoever deletes it first owns it.
    if (!(await this.deps.state.delete(key))) throw new GdriveBackupError('oauth_state_invalid');
    if (this.now() - pending.createdAt > STATE_TTL_MS) throw new GdriveBackupError('oauth_state_invalid');
    if (pending.object !== formatObjectRef(object)) throw new GdriveBackupError('oauth_state_invalid');
    return pending;
  }
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
