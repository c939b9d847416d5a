// The secrets store of mode `client`: the memory adapter under keyv's own adapter suite and our
// conformance suite, its journal, and the protocol over the real service (fastify inject) with a
// real connector on the sandbox: 503 before the load, the pending header, changes and ack,
// a restarted connector loaded from the client's copy.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import keyvTestSuite from '@keyv/test-suite';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import { startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { startService } from '../../connector/service/serve-command.js';
import { buildService } from '../../connector/service/server.js';
import { ServiceClient } from '../../connector/service/service-client.js';
import { ClientSecretsStore, MAX_SECRET_LENGTH } from '../../connector/store/client-secrets-store.js';
import { answerConsent, startTestEnv, type TestEnv } from '../helpers/test-env.js';
import { connectObject } from '../service/harness.js';
import { runStoreConformance } from './store-conformance.js';

function loadedStore(): ClientSecretsStore {
  const store = new ClientSecretsStore();
  store.load({});
  return store;
}

describe("keyv's adapter test suite", () => {
  keyvTestSuite(vitest, Keyv, loadedStore);
});

runStoreConformance('ClientSecretsStore', async () => ({ store: loadedStore(), cleanup: async () => {} }));

describe('ClientSecretsStore', () => {
  it('refuses every operation before the client loaded its copy', async () => {
    const keyv = new Keyv({ store: new ClientSecretsStore(), namespace: 'secrets', throwOnErrors: true });
    await expect(keyv.get('k')).rejects.toMatchObject({ code: 'secrets_not_loaded' });
    await expect(keyv.set('k', 'v')).rejects.toMatchObject({ code: 'secrets_not_loaded' });
    await expect(keyv.delete('k')).rejects.toMatchObject({ code: 'secrets_not_loaded' });
  });

  it('journals sets and deletes until acknowledged; later changes survive an older ack', async () => {
    const store = new ClientSecretsStore();
    const serialized = (value: string) => JSON.stringify({ value, expires: null });
    store.load({ 'secrets:old': serialized('o'), 'secrets:gone': serialized('g') });
    expect(store.pending).toBe(false);
    const keyv = new Keyv({ store, namespace: 'secrets', throwOnErrors: true });
    expect(await keyv.get('old')).toBe('o');
    await keyv.set('new', 'n');
    await keyv.delete('gone');
    const first = store.changes();
    expect(Object.keys(first.set)).toEqual(['secrets:new']);
    expect(JSON.parse(first.set['secrets:new'] ?? '')).toMatchObject({ value: 'n' });
    expect(first.delete).toEqual(['secrets:gone']);
    await keyv.set('after', 'a');
    store.ack(first.version);
    expect(store.pending).toBe(true);
    expect(Object.keys(store.changes().set)).toEqual(['secrets:after']);
    store.ack(store.changes().version);
    expect(store.pending).toBe(false);
  });

  it('ignores a second load: memory and journal are newer than any copy', async () => {
    const store = new ClientSecretsStore();
    expect(store.load({ 'secrets:k': 'first' })).toBe(true);
    expect(store.load({ 'secrets:k': 'stale' })).toBe(false);
    expect(await store.get('secrets:k')).toBe('first');
  });

  it(`refuses a value over ${MAX_SECRET_LENGTH} characters (pm_Settings holds 5000) and journals nothing`, async () => {
    const store = loadedStore();
    await expect(store.set('secrets:big', 'x'.repeat(MAX_SECRET_LENGTH + 1))).rejects.toMatchObject({
      code: 'secret_too_large',
    });
    expect(store.pending).toBe(false);
    expect(await store.has('secrets:big')).toBe(false);
  });
});

describe('the secrets protocol over the service (GDRIVE_SECRETS_STORE=client)', () => {
  let env: TestEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  const TOKEN = 'test-api-token';
  const serviceOf = (e: TestEnv) =>
    buildService({ connector: e.connector, config: e.config, apiToken: TOKEN, log: false });
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('503 before the load, the pending header after a connect, changes and ack, a reload after a restart', async () => {
    env = await startTestEnv({ connect: false, config: { secretsStore: 'client' } });
    let app = serviceOf(env);

    const early = await app.inject({
      method: 'POST',
      url: '/v1/objects/server/dirs',
      headers: auth,
      payload: { path: '/x' },
    });
    expect(early.statusCode).toBe(503);
    expect(early.json()).toMatchObject({ error: { code: 'secrets_not_loaded', retryable: true } });
    expect((await app.inject({ method: 'GET', url: '/v1/health', headers: auth })).statusCode).toBe(200);
    // The secrets routes are authenticated like every other.
    expect((await app.inject({ method: 'GET', url: '/v1/secrets/changes' })).statusCode).toBe(401);

    const load = await app.inject({
      method: 'PUT',
      url: '/v1/secrets',
      headers: auth,
      payload: { entries: {} },
    });
    expect(load.statusCode).toBe(204);
    const account = await app.inject({ method: 'GET', url: '/v1/objects/server/account', headers: auth });
    expect(account.json()).toEqual({ connected: false });
    expect(account.headers['gdrive-secrets-pending']).toBeUndefined();

    const start = await app.inject({
      method: 'POST',
      url: '/v1/objects/server/oauth/start',
      headers: auth,
      payload: { redirectUri: 'http://127.0.0.1:9/callback' },
    });
    const finish = await app.inject({
      method: 'POST',
      url: '/v1/objects/server/oauth/finish',
      headers: auth,
      payload: await answerConsent(start.json<{ url: string }>().url),
    });
    expect(finish.statusCode).toBe(200);
    expect(finish.headers['gdrive-secrets-pending']).toBe('1');

    const changes = (await app.inject({ method: 'GET', url: '/v1/secrets/changes', headers: auth })).json<{
      version: number;
      set: Record<string, string>;
      delete: string[];
    }>();
    expect(Object.keys(changes.set)).toHaveLength(1);
    expect(changes.delete).toEqual([]);
    // Not acknowledged yet: still pending, the same changes again.
    const again = await app.inject({ method: 'GET', url: '/v1/objects/server/account', headers: auth });
    expect(again.headers['gdrive-secrets-pending']).toBe('1');
    const ack = await app.inject({
      method: 'POST',
      url: '/v1/secrets/changes/ack',
      headers: auth,
      payload: { version: changes.version },
    });
    expect(ack.statusCode).toBe(204);
    expect(ack.headers['gdrive-secrets-pending']).toBeUndefined();

    // A restarted connector knows nothing until the client loads its copy again.
    await app.close();
    await env.reopen();
    app = serviceOf(env);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/objects/server/account', headers: auth })).statusCode,
    ).toBe(503);
    await app.inject({ method: 'PUT', url: '/v1/secrets', headers: auth, payload: { entries: changes.set } });
    const after = await app.inject({ method: 'GET', url: '/v1/objects/server/account', headers: auth });
    expect(after.json()).toMatchObject({ connected: true });
    const dir = await app.inject({
      method: 'POST',
      url: '/v1/objects/server/dirs',
      headers: auth,
      payload: { path: '/x' },
    });
    expect(dir.statusCode).toBe(201);

    const gone = await app.inject({ method: 'DELETE', url: '/v1/objects/server/account', headers: auth });
    expect(gone.headers['gdrive-secrets-pending']).toBe('1');
    const removal = (await app.inject({ method: 'GET', url: '/v1/secrets/changes', headers: auth })).json<{
      delete: string[];
    }>();
    expect(removal.delete).toEqual(Object.keys(changes.set));
    await app.close();
  });

  it('answers 400 to the secrets routes when the connector keeps its secrets in its own file', async () => {
    env = await startTestEnv({ connect: false });
    const app = serviceOf(env);
    const load = await app.inject({
      method: 'PUT',
      url: '/v1/secrets',
      headers: auth,
      payload: { entries: {} },
    });
    expect(load.statusCode).toBe(400);
    await app.close();
  });
});

describe('the service with unstored secret changes', () => {
  it('does not stop for idleness while its journal waits for the client, and does once acknowledged', async () => {
    const sandbox = await startSandbox();
    const dataDir = await mkdtemp(join(tmpdir(), 'client-secrets-idle-'));
    const config = loadConfig({
      env: { ...sandbox.env },
      flags: { dataDir, idleTimeout: '1', secretsStore: 'client', logLevel: 'silent', retryBaseMs: '5' },
      readFile: false,
    });
    const service = await startService(config, { log: false });
    const client = new ServiceClient({ socketPath: config.socketPath }, service.apiToken);
    try {
      service.connector.clientSecrets?.load({});
      await connectObject(client, { type: 'server', id: null });
      await client.close();
      const outcome = await Promise.race([
        service.stopped.then(() => 'stopped'),
        new Promise((resolve) => setTimeout(() => resolve('still running'), 2_500)),
      ]);
      expect(outcome).toBe('still running');
      const journal = service.connector.clientSecrets;
      journal?.ack(journal.changes().version);
      await service.stopped;
    } finally {
      await client.close();
      await service.stop();
      await sandbox.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
