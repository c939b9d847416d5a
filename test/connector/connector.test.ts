import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnector } from '../../connector/connector.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { isGdriveBackupError } from '../../connector/errors/errors.js';
import { connectObject, startTestEnv, type TestEnv, writeLocalFile } from '../helpers/test-env.js';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('createConnector', () => {
  it('connects through the real OAuth flow and reports the account', async () => {
    env = await startTestEnv();
    expect(await env.transport.account()).toEqual({
      connected: true,
      email: 'admin@example.com',
      folder: 'My Drive/Plesk Backups/test-host/server',
      connectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(await env.transport.isConfigured()).toBe(true);
  });

  it('holds the data dir: a second connector on it fails with data_dir_locked until the first closes', async () => {
    env = await startTestEnv({ connect: false });
    const second = await createConnector(env.config).then(
      () => 'opened',
      (error: unknown) => error,
    );
    expect(isGdriveBackupError(second, 'data_dir_locked')).toBe(true);
    expect((second as Error).message).toBe(
      `Another gdrive-backup process is using ${env.dataDir}: wait for it or stop it, then try again.`,
    );
    await env.connector.close();
    await env.connector.close(); // twice is harmless
    const third = await createConnector(env.config);
    await third.close();
  });

  it('takes over at once the lock of a killed process, but not of a live one', async () => {
    env = await startTestEnv({ connect: false });
    await env.connector.close();
    // What a connector killed with SIGKILL leaves: the lock dir and its owner record.
    const fakeLock = async (pid: number) => {
      await mkdir(join(env!.dataDir, 'lock'), { recursive: true });
      await writeFile(join(env!.dataDir, 'lock.owner'), JSON.stringify({ pid, host: hostname() }));
    };
    const exited = spawnSync('true').pid!;
    await fakeLock(exited);
    const taken = await createConnector(env.config);
    await taken.close();

    const alive = spawn('sleep', ['30']);
    try {
      await fakeLock(alive.pid!);
      await expect(createConnector(env.config)).rejects.toMatchObject({ code: 'data_dir_locked' });
    } finally {
      alive.kill();
    }
    await rm(join(env.dataDir, 'lock'), { recursive: true });
    env.connector = await createConnector(env.config);
  });

  it('keeps objects apart: own folders, own accounts', async () => {
    env = await startTestEnv({ connect: false });
    const site: ObjectRef = { type: 'subscription', id: '12' };
    const client: ObjectRef = { type: 'customer', id: '5' };
    await connectObject(env.connector, site, { name: 'example.com' });
    await connectObject(env.connector, client, { name: 'jdoe' });
    const siteTransport = env.connector.transport(site);
    const clientTransport = env.connector.transport(client);
    await siteTransport.createDir('/dumps');
    await clientTransport.createDir('/other');
    expect(await siteTransport.listDir('/')).toEqual([{ name: 'dumps', size: 0, isDir: true }]);
    expect(await clientTransport.listDir('/')).toEqual([{ name: 'other', size: 0, isDir: true }]);
    expect((await siteTransport.account()).folder).toBe(
      'My Drive/Plesk Backups/test-host/subscription/example.com',
    );
    expect((await clientTransport.account()).folder).toBe('My Drive/Plesk Backups/test-host/customer/jdoe');
    // Not connecting the server leaves it unconfigured; disconnecting one object leaves the other.
    expect(await env.connector.transport({ type: 'server', id: null }).isConfigured()).toBe(false);
    await env.connector.oauth.disconnect(client);
    expect(await clientTransport.isConfigured()).toBe(false);
    expect(await siteTransport.stat('/dumps')).toMatchObject({ isDir: true });
  });

  it('counts its requests by kind exactly as Drive receives them, and its open handles', async () => {
    env = await startTestEnv();
    const fd = await env.transport.openFileWrite('/dumps/a.tar');
    expect(await env.connector.openHandles()).toBe(1);
    await env.connector.appendFile(fd, await writeLocalFile(env.tmpDir, 'p', 'abc'));
    await env.connector.closeWrite(fd);
    expect(await env.connector.openHandles()).toBe(0);
    await env.transport.listDir('/dumps');
    const ours = env.connector.requestCounts();
    const theirs = Object.fromEntries(
      Object.entries(env.sandbox.counters()).filter(([kind, n]) => n > 0 && kind !== 'oauth.authorize'),
    );
    expect(ours).toEqual(theirs);
  });

  it('keeps no secret on disk when secretsStore is client', async () => {
    env = await startTestEnv({ connect: false, config: { secretsStore: 'client' } });
    env.connector.clientSecrets?.load({});
    await env.connect();
    expect(existsSync(join(env.dataDir, 'secrets.json'))).toBe(false);
    expect(existsSync(join(env.dataDir, 'secrets.key'))).toBe(false);
    expect(env.connector.clientSecrets?.pending).toBe(true);
    await env.transport.createDir('/client-secrets');
  });
});
