// Several objects on one Google account: Google keeps one grant per account and client
// (revoking any token ends all of them; at most 100 live refresh tokens), so the connector keeps
// one refresh token per account and revokes it only when the account's last object goes.
// Real sandbox, real connector, real OAuth flow.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnector } from '../../connector/connector.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { silentLog } from '../../connector/log.js';
import { SecretCipher } from '../../connector/store/secret-cipher.js';
import { openStores } from '../../connector/store/stores.js';
import {
  recordingLog,
  startTestEnv,
  type TestEnv,
  withStandaloneAccounts,
  writeLocalFile,
} from '../helpers/test-env.js';

const server: ObjectRef = { type: 'server', id: null };
const site: ObjectRef = { type: 'subscription', id: '7' };

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** Writes `content` to `path` of `object` and reads it back through the connector. */
async function roundTrip(env: TestEnv, object: ObjectRef, path: string, content: string): Promise<string> {
  const transport = env.connector.transport(object);
  const fd = await transport.openFileWrite(path);
  await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'piece', content));
  await env.connector.closeWrite(fd);
  const read = await transport.openFileRead(path, 0);
  const out = join(env.tmpDir, 'read-back');
  await env.connector.readFile(read, out, null);
  await env.connector.closeRead(read);
  return readFile(out, 'utf8');
}

/** Secrets-store keys as stored (decrypting nothing). */
async function secretKeys(dataDir: string): Promise<string[]> {
  const file = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8')) as {
    cache: Array<[string, unknown]>;
  };
  return file.cache.map(([key]) => key).sort();
}

async function storedSecret(dataDir: string, key: string): Promise<string> {
  const cipher = await SecretCipher.fromKeyFile(join(dataDir, 'secrets.key'));
  const file = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8')) as {
    cache: Array<[string, { value: string }]>;
  };
  const entry = file.cache.find(([stored]) => stored === `secrets:${key}`);
  if (!entry) throw new Error(`no secret ${key}`);
  return (JSON.parse(cipher.open(entry[1].value)) as { value: string }).value;
}

/** What Google's token endpoint says of a refresh token: 200, or its error code. */
async function refreshAnswer(env: TestEnv, refreshToken: string): Promise<number | string> {
  const res = await fetch(env.sandbox.env.GDRIVE_OAUTH_TOKEN_URL, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: env.config.clientId,
      client_secret: env.config.clientSecret,
    }),
  });
  const body = (await res.json()) as { error?: string };
  return res.status === 200 ? 200 : (body.error ?? res.status);
}

describe('objects sharing a Google account', () => {
  it('disconnecting one keeps the other backing up and restoring; the last one revokes the grant', async () => {
    env = await startTestEnv();
    await env.connect(site, { name: 'example.com' });
    expect(await secretKeys(env.dataDir)).toEqual(['secrets:grant:admin@example.com']);
    expect(await roundTrip(env, server, '/a.tar', 'server backup')).toBe('server backup');
    expect(await roundTrip(env, site, '/b.tar', 'site backup')).toBe('site backup');
    const token = await storedSecret(env.dataDir, 'grant:admin@example.com');

    await env.connector.oauth.disconnect(server);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(0);
    expect(await env.connector.transport(server).account()).toEqual({ connected: false });
    // The grant lives on at Google: the other object backs up and restores, also after a
    // restart and with its access tokens gone (a refresh with the shared token).
    env.sandbox.expireAccessTokens();
    await env.reopen();
    expect(await roundTrip(env, site, '/c.tar', 'after the other left')).toBe('after the other left');
    expect(await env.connector.transport(site).stat('/b.tar')).toMatchObject({ size: 11 });
    expect(await refreshAnswer(env, token)).toBe(200);

    await env.connector.oauth.disconnect(site);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(1);
    expect(await refreshAnswer(env, token)).toBe('invalid_grant');
    expect(await secretKeys(env.dataDir)).toEqual([]);
    await expect(env.connector.transport(site).stat('/b.tar')).rejects.toMatchObject({
      code: 'not_connected',
    });
  });

  it('a new consent for a linked account replaces its token without revoking anything', async () => {
    env = await startTestEnv();
    const first = await storedSecret(env.dataDir, 'grant:admin@example.com');
    await env.connect(site);
    const second = await storedSecret(env.dataDir, 'grant:admin@example.com');
    expect(second).not.toBe(first);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(0);
    // Revoking the old token would have ended the new one: both still work.
    expect(await refreshAnswer(env, first)).toBe(200);
    expect(await refreshAnswer(env, second)).toBe(200);
    env.sandbox.expireAccessTokens();
    expect(await roundTrip(env, server, '/s.tar', 'server')).toBe('server');
    expect(await roundTrip(env, site, '/t.tar', 'site')).toBe('site');
  });

  it('more than 100 objects on one account keep working: they share one refresh token', async () => {
    env = await startTestEnv();
    const objects = Array.from(
      { length: 104 },
      (_, i): ObjectRef => ({ type: 'subscription', id: String(i) }),
    );
    for (const object of objects) await env.connect(object);
    expect(await secretKeys(env.dataDir)).toEqual(['secrets:grant:admin@example.com']);
    // Google dropped the oldest refresh tokens of the grant; the stored one is the newest.
    env.sandbox.expireAccessTokens();
    await env.reopen();
    for (const object of [server, objects[0]!, objects[50]!, objects[100]!]) {
      expect(await env.connector.transport(object).stat('/')).toMatchObject({ isDir: true });
    }
  });

  it('an object moving to another account revokes the old one when no object is left on it', async () => {
    env = await startTestEnv();
    await env.connect(site);
    const admin = await storedSecret(env.dataDir, 'grant:admin@example.com');
    env.sandbox.setUserEmail('other@example.com');
    await env.connect(server);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(0);
    expect(await env.connector.transport(server).account()).toMatchObject({ email: 'other@example.com' });
    await env.connect(site);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(1);
    expect(await refreshAnswer(env, admin)).toBe('invalid_grant');
    expect(await secretKeys(env.dataDir)).toEqual(['secrets:grant:other@example.com']);
    expect(await roundTrip(env, site, '/moved.tar', 'moved')).toBe('moved');
  });

  it('a rotated refresh token is stored for the account and serves every object on it', async () => {
    env = await startTestEnv({ connect: false });
    await withStandaloneAccounts(env, async (accounts, env) => {
      const record = { email: 'admin@example.com', connectedAt: 'now' };
      await accounts.save(server, { refresh_token: env.sandbox.issueRefreshToken() }, record);
      await accounts.save(site, { refresh_token: env.sandbox.issueRefreshToken() }, record);
      const client = await accounts.clientFor(server);
      expect(await accounts.clientFor(site)).toBe(client);
      const rotated = env.sandbox.issueRefreshToken();
      client.emit('tokens', { access_token: 'new-access', refresh_token: rotated });
      await expect.poll(() => accounts.refreshToken(site)).toBe(rotated);
      expect(await accounts.refreshToken(server)).toBe(rotated);
      expect(await accounts.objectsSharing(site)).toEqual(['server', 'subscription:7']);
    });
  });
});

describe('data dirs of the per-object format', () => {
  it('are moved onto accounts on first read; objects keep working and share one token', async () => {
    const log = recordingLog();
    env = await startTestEnv({ connect: false, log });
    await env.connector.close();
    // What the previous version wrote: a refresh token and a record per object.
    const tokens = [env.sandbox.issueRefreshToken(), env.sandbox.issueRefreshToken()];
    const stores = await openStores(env.config, silentLog);
    await stores.secrets.set('refresh-token:server', tokens[0]);
    await stores.secrets.set('refresh-token:subscription:7', tokens[1]);
    await stores.state.set('account:server', {
      email: 'admin@example.com',
      connectedAt: '2026-01-01T00:00:00Z',
    });
    await stores.state.set('account:subscription:7', {
      email: 'Admin@Example.com',
      objectName: 'example.com',
      connectedAt: '2026-01-02T00:00:00Z',
    });
    await stores.close();
    env.connector = await createConnector(env.config, { log });

    expect(await env.connector.transport(server).account()).toMatchObject({
      connected: true,
      email: 'admin@example.com',
    });
    expect(await secretKeys(env.dataDir)).toEqual([
      'secrets:grant:admin@example.com',
      'secrets:refresh-token:subscription:7',
    ]);
    expect(await roundTrip(env, site, '/legacy.tar', 'legacy')).toBe('legacy');
    expect(await secretKeys(env.dataDir)).toEqual(['secrets:grant:admin@example.com']);
    // The account's token is the first one moved; the record keeps its folder name.
    expect(await storedSecret(env.dataDir, 'grant:admin@example.com')).toBe(tokens[0]);
    expect(env.sandbox.items().some((item) => item.name === 'example.com')).toBe(true);
    await env.reopen();
    expect(await roundTrip(env, server, '/after-restart.tar', 'x')).toBe('x');

    await env.connector.oauth.disconnect(server);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(0);
    expect(await roundTrip(env, site, '/still.tar', 'still')).toBe('still');
    // Other objects of the old format may still hold a token of this grant unseen: the last
    // known one goes without revoking it.
    await env.connector.oauth.disconnect(site);
    expect(env.sandbox.counters()['oauth.revoke']).toBe(0);
    expect(log.text()).toContain('not revoking the Google grant');
    expect(await secretKeys(env.dataDir)).toEqual([]);
    expect(log.text()).not.toContain(tokens[0]);
    expect(log.text()).not.toContain(tokens[1]);
  });
});
