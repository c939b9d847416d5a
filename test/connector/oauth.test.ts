import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STATE_TTL_MS } from '../../connector/auth/oauth-flow.js';
import { createConnector } from '../../connector/connector.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { GdriveBackupError, isGdriveBackupError } from '../../connector/errors/errors.js';
import { SecretCipher } from '../../connector/store/secret-cipher.js';
import {
  answerConsent,
  recordingLog,
  startTestEnv,
  type TestEnv,
  withStandaloneAccounts,
} from '../helpers/test-env.js';

const server: ObjectRef = { type: 'server', id: null };
const subscription: ObjectRef = { type: 'subscription', id: '12' };
const redirectUri = 'http://127.0.0.1:9/callback';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function failure(promise: Promise<unknown>): Promise<GdriveBackupError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof GdriveBackupError))
    throw new Error(`expected a GdriveBackupError, got ${String(outcome)}`);
  return outcome;
}

/** The refresh token stored under `key` (an account's), read the way only the key holder can. */
async function storedRefreshToken(dataDir: string, key = 'grant:admin@example.com'): Promise<string> {
  const cipher = await SecretCipher.fromKeyFile(join(dataDir, 'secrets.key'));
  const file = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8')) as {
    cache: Array<[string, { value: string }]>;
  };
  const entry = file.cache.find(([stored]) => stored === `secrets:${key}`);
  if (!entry) throw new Error('no stored refresh token');
  return (JSON.parse(cipher.open(entry[1].value)) as { value: string }).value;
}

describe('OAuth2 flow', () => {
  it('runs start -> consent -> finish with PKCE and stores the token encrypted', async () => {
    const log = recordingLog();
    env = await startTestEnv({ connect: false, log });
    const { url } = await env.connector.oauth.start(server, { redirectUri });
    const consent = new URL(url);
    expect(consent.origin + consent.pathname).toBe(env.sandbox.env.GDRIVE_OAUTH_AUTH_URL);
    const q = consent.searchParams;
    expect(q.get('access_type')).toBe('offline');
    expect(q.get('prompt')).toBe('consent');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(q.get('scope')).toBe('https://www.googleapis.com/auth/drive.file');
    expect(q.get('redirect_uri')).toBe(redirectUri);
    expect(q.get('client_id')).toBe(env.sandbox.env.GDRIVE_CLIENT_ID);
    expect(q.get('state')).toMatch(/^[\w-]{40,}$/);

    const answer = await answerConsent(url);
    expect(answer.state).toBe(q.get('state'));
    expect(await env.connector.oauth.finish(server, answer)).toEqual({ email: 'admin@example.com' });
    expect(await env.transport.account()).toMatchObject({ connected: true, email: 'admin@example.com' });

    const token = await storedRefreshToken(env.dataDir);
    expect(token.length).toBeGreaterThan(10);
    const onDisk = await readFile(join(env.dataDir, 'secrets.json'), 'utf8');
    expect(onDisk).not.toContain(token);
    const state = await readFile(join(env.dataDir, 'state.json'), 'utf8');
    expect(state).not.toContain(token);
    // Nothing secret reaches the log either: not the token, the code nor the client secret.
    const logged = log.text();
    expect(logged).toContain('Google Drive connected');
    expect(logged).not.toContain(token);
    expect(logged).not.toContain((answer as { code: string }).code);
    expect(logged).not.toContain(env.config.clientSecret);
  });

  it('asks for the full drive scope when configured', async () => {
    env = await startTestEnv({ connect: false, config: { scope: 'drive' } });
    const { url } = await env.connector.oauth.start(server, { redirectUri });
    expect(new URL(url).searchParams.get('scope')).toBe('https://www.googleapis.com/auth/drive');
  });

  it('accepts a state once only', async () => {
    env = await startTestEnv({ connect: false });
    const { url } = await env.connector.oauth.start(server, { redirectUri });
    const answer = await answerConsent(url);
    await env.connector.oauth.finish(server, answer);
    const reused = await failure(env.connector.oauth.finish(server, answer));
    expect(reused.code).toBe('oauth_state_invalid');
    expect(reused.message).toContain('Connect Google Drive');
  });

  it('refuses a state older than 10 minutes, and takes one just younger', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    env = await startTestEnv({ connect: false, now: () => now });
    const late = await env.connector.oauth.start(server, { redirectUri });
    const lateAnswer = await answerConsent(late.url);
    now += STATE_TTL_MS + 1;
    expect((await failure(env.connector.oauth.finish(server, lateAnswer))).code).toBe('oauth_state_invalid');
    expect((await env.transport.account()).connected).toBe(false);

    const inTime = await env.connector.oauth.start(server, { redirectUri });
    const answer = await answerConsent(inTime.url);
    now += STATE_TTL_MS - 1000;
    expect(await env.connector.oauth.finish(server, answer)).toEqual({ email: 'admin@example.com' });
  });

  it("refuses another object's state, unknown and malformed states, and stores nothing", async () => {
    env = await startTestEnv({ connect: false });
    const { url } = await env.connector.oauth.start(subscription, { redirectUri, name: 'example.com' });
    const answer = await answerConsent(url);
    expect((await failure(env.connector.oauth.finish(server, answer))).code).toBe('oauth_state_invalid');
    const unknown = { state: 'x'.repeat(43), code: 'whatever' };
    expect((await failure(env.connector.oauth.finish(server, unknown))).code).toBe('oauth_state_invalid');
    const malformed = { state: '../../etc', code: 'whatever' };
    expect((await failure(env.connector.oauth.finish(server, malformed))).code).toBe('oauth_state_invalid');
    expect((await env.transport.account()).connected).toBe(false);
    expect((await env.connector.transport(subscription).account()).connected).toBe(false);
    expect(env.sandbox.counters()['oauth.token']).toBe(0);
  });

  it('reports a refused consent as oauth_denied', async () => {
    env = await startTestEnv({ connect: false });
    env.sandbox.setConsent('deny');
    const { url } = await env.connector.oauth.start(server, { redirectUri });
    const answer = await answerConsent(url);
    expect(answer).toMatchObject({ error: 'access_denied' });
    const denied = await failure(env.connector.oauth.finish(server, answer));
    expect(denied.code).toBe('oauth_denied');
    expect(denied.message).toContain('(access_denied)');
    expect((await env.transport.account()).connected).toBe(false);
  });

  it('reports a wrong client secret as oauth_exchange_failed without the secret', async () => {
    env = await startTestEnv({ connect: false, config: { clientSecret: 'not-the-secret' } });
    const { url } = await env.connector.oauth.start(server, { redirectUri });
    const refused = await failure(env.connector.oauth.finish(server, await answerConsent(url)));
    expect(refused.code).toBe('oauth_exchange_failed');
    expect(refused.message).toContain('invalid_client');
    expect(refused.message).not.toContain('not-the-secret');
    expect((await env.transport.account()).connected).toBe(false);
  });

  it('needs a client id and secret: not_configured', async () => {
    env = await startTestEnv({ connect: false, config: { clientId: '' } });
    expect((await failure(env.connector.oauth.start(server, { redirectUri }))).code).toBe('not_configured');
    expect(await env.transport.isConfigured()).toBe(false);
    expect((await env.transport.check()).errors).toEqual([new GdriveBackupError('not_configured').message]);
  });
});

describe('tokens during use', () => {
  it('refreshes an access token Google dropped early, transparently', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/dumps');
    const before = env.sandbox.counters()['oauth.token'];
    env.sandbox.expireAccessTokens();
    expect(await env.transport.stat('/dumps')).toMatchObject({ isDir: true });
    expect(env.sandbox.counters()['oauth.token']).toBe(before + 1);
    expect(env.connector.requestCounts()['oauth.token']).toBe(before + 1);
  });

  it('turns a revoked grant into reconnect_required with the reconnect sentence', async () => {
    env = await startTestEnv({ object: subscription, objectName: 'example.com' });
    await env.transport.createDir('/dumps');
    env.sandbox.revokeAll();
    const revoked = await failure(env.transport.stat('/dumps/backup.tar'));
    expect(revoked.code).toBe('reconnect_required');
    expect(revoked.message).toBe(
      'Google no longer accepts the access granted for subscription:12 (revoked or expired): reconnect Google Drive in the storage settings.',
    );
    // Connecting again heals it.
    await env.connect();
    expect(await env.transport.stat('/dumps')).toMatchObject({ isDir: true });
  });

  it('keeps the refresh token for the next connector on the same data dir', async () => {
    env = await startTestEnv();
    await env.transport.createDir('/kept');
    await env.reopen();
    expect(await env.transport.account()).toMatchObject({ connected: true, email: 'admin@example.com' });
    expect(await env.transport.stat('/kept')).toMatchObject({ isDir: true });
    // The new process refreshed its own access token.
    expect(env.connector.requestCounts()['oauth.token']).toBe(1);
  });

  it('stores a refresh token Google rotates during a refresh', async () => {
    env = await startTestEnv({ connect: false });
    await withStandaloneAccounts(env, async (accounts, env) => {
      const first = env.sandbox.issueRefreshToken();
      await accounts.save(server, { refresh_token: first }, { email: 'a@example.com', connectedAt: 'now' });
      const client = await accounts.clientFor(server);
      const rotated = env.sandbox.issueRefreshToken();
      // google-auth-library announces new tokens with this event after a refresh.
      client.emit('tokens', { access_token: 'new-access', refresh_token: rotated });
      await expect.poll(() => accounts.refreshToken(server)).toBe(rotated);
      const text = await readFile(join(env.dataDir, 'secrets.json'), 'utf8');
      expect(text).not.toContain(rotated);
      expect(text).not.toContain('new-access');
    });
  });

  it('says secrets_unavailable when the secrets cannot be decrypted', async () => {
    env = await startTestEnv();
    await env.connector.close();
    await writeFile(join(env.dataDir, 'secrets.key'), randomBytes(32));
    env.connector = await createConnector(env.config);
    const broken = await failure(env.connector.transport(server).stat('/x'));
    expect(broken.code).toBe('secrets_unavailable');
    expect(broken.message).toContain('The secrets store cannot be reached');
  });

  it('disconnect revokes at Google and forgets; without an account every call says not_connected', async () => {
    const log = recordingLog();
    env = await startTestEnv({ log });
    const token = await storedRefreshToken(env.dataDir);
    await env.connector.oauth.disconnect(server);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(1);
    expect(log.entries.filter((e) => e.level === 'warn')).toEqual([]);
    // Google no longer honours the token.
    const refresh = await fetch(env.sandbox.env.GDRIVE_OAUTH_TOKEN_URL, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: token,
        client_id: env.config.clientId,
        client_secret: env.config.clientSecret,
      }),
    });
    expect(refresh.status).toBe(400);
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await env.transport.account()).toEqual({ connected: false });
    const missing = await failure(env.transport.stat('/x'));
    expect(missing.code).toBe('not_connected');
    expect(missing.message).toContain('Connect Google Drive');
  });

  it('disconnect forgets the account even when Google cannot revoke', async () => {
    const log = recordingLog();
    env = await startTestEnv({ log, config: { maxAttempts: 2 } });
    env.sandbox.setFaults('oauth.revoke:503x10');
    const token = await storedRefreshToken(env.dataDir);
    await env.connector.oauth.disconnect(server);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(2);
    expect(log.text()).toContain('retrying');
    expect(log.text()).not.toContain(token);
    expect((await env.transport.account()).connected).toBe(false);
    expect(log.entries.some((e) => e.level === 'warn' && e.message.includes('could not revoke'))).toBe(true);
    expect(isGdriveBackupError(await failure(env.transport.listDir('/')), 'not_connected')).toBe(true);
  });
});
