import { afterEach, describe, expect, it } from 'vitest';
import { GdriveBackupError } from '../../connector/errors/errors.js';
import { startTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

function probes(env: TestEnv) {
  return env.sandbox.items().filter((item) => item.name.startsWith('.gdrive-backup-check-') && !item.trashed);
}

describe('check()', () => {
  it('creates, writes in two appends, stats, reads back, lists and deletes: no errors, nothing left', async () => {
    env = await startTestEnv({ config: { lowQuotaBytes: 1024 ** 3 } });
    env.sandbox.resetCounters();
    expect(await env.transport.check()).toEqual({ errors: [], warnings: [] });
    const counters = env.sandbox.counters();
    expect(counters['files.create']).toBeGreaterThanOrEqual(1);
    expect(counters['upload.start']).toBe(1);
    expect(counters['files.download']).toBeGreaterThanOrEqual(1);
    expect(counters['files.delete']).toBe(2);
    expect(probes(env)).toEqual([]);
    expect(env.sandbox.items().filter((item) => item.name === 'probe.bin' && !item.trashed)).toEqual([]);
    expect(await env.connector.openHandles()).toBe(0);
  });

  it('warns when the free space is below lowQuotaBytes', async () => {
    env = await startTestEnv({ sandbox: { quotaBytes: 512 * 1024 ** 2 } });
    const result = await env.transport.check();
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      'Only 512.0 MiB are free on the Google Drive of server (less than 10.0 GiB): free space in Google Drive or buy more storage before backups fail.',
    ]);
  });

  it('tells to connect when no account is connected', async () => {
    env = await startTestEnv({ connect: false, object: { type: 'reseller', id: '4' } });
    expect(await env.transport.check()).toEqual({
      errors: [new GdriveBackupError('not_connected', { object: 'reseller:4' }).message],
      warnings: [],
    });
  });

  it('tells to reconnect when Google revoked the grant', async () => {
    env = await startTestEnv();
    env.sandbox.revokeAll();
    expect(await env.transport.check()).toEqual({
      errors: [new GdriveBackupError('reconnect_required', { object: 'server' }).message],
      warnings: [],
    });
  });

  it('reports a full Drive and removes its probe folder', async () => {
    env = await startTestEnv({ sandbox: { quotaBytes: 1000 }, config: { lowQuotaBytes: 0 } });
    const result = await env.transport.check();
    expect(result.errors).toEqual([new GdriveBackupError('drive_full', { object: 'server' }).message]);
    expect(probes(env)).toEqual([]);
  });

  it('rides out transient faults', async () => {
    env = await startTestEnv({ config: { lowQuotaBytes: 0 } });
    env.sandbox.setFaults('files.list:503@2;upload.chunk:500@1;files.download:429@1');
    expect(await env.transport.check()).toEqual({ errors: [], warnings: [] });
  });
});
