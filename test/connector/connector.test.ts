import { afterEach, describe, expect, it } from 'vitest';
import { createConnector } from '../../connector/connector.js';
import { isGdriveBackupError } from '../../connector/errors/errors.js';
import { startTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('createConnector', () => {
  it('connects through the real OAuth flow and reports the account', async () => {
    env = await startTestEnv();
    const account = await env.transport.account();
    expect(account).toEqual({
      connected: true,
      email: 'admin@example.com',
      folder: 'My Drive/Plesk Backups/test-host/server',
    });
    expect(await env.transport.isConfigured()).toBe(true);
  });

  it('holds the data dir: a second connector on it fails with data_dir_locked', async () => {
    env = await startTestEnv({ connect: false });
    const second = await createConnector(env.config).then(
      () => 'opened',
      (error: unknown) => error,
    );
    expect(isGdriveBackupError(second, 'data_dir_locked')).toBe(true);
    expect((second as Error).message).toContain(env.dataDir);
    await env.connector.close();
    const third = await createConnector(env.config);
    await third.close();
  });
});
