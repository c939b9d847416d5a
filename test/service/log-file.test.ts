// GDRIVE_BACKUP_LOG_FILE: the service logs to a file that is rotated by size, keeping the last
// GDRIVE_BACKUP_LOG_KEEP files, mode 0600, and no secret in any of them.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { startService } from '../../connector/service/serve-command.js';
import { raw } from './harness.js';

let sandbox: Sandbox;
let root: string;

beforeAll(async () => {
  sandbox = await startSandbox({});
  root = await mkdtemp(join(tmpdir(), 'gdrive-log-file-'));
});

afterAll(async () => {
  await sandbox?.close();
  await rm(root, { recursive: true, force: true });
});

describe('log file', () => {
  it('rotates connector.log by size and keeps the last files only', { timeout: 60_000 }, async () => {
    const dataDir = join(root, 'data');
    const logFile = join(dataDir, 'connector.log');
    const config = loadConfig({
      env: { ...sandbox.env },
      flags: { dataDir, logFile, logMaxSize: '64KiB', logKeep: '2', logLevel: 'info' },
      readFile: false,
    });
    const service = await startService(config);
    // Each request logs two lines of ~200 bytes: 1200 requests write ~450 KiB, 7 times the size.
    for (let i = 0; i < 1200; i++) {
      const answer = await raw(config.socketPath, 'GET', `/v1/health?token=${service.apiToken}`, {
        token: service.apiToken,
      });
      expect(answer.status).toBe(200);
    }
    await service.stop();
    // Rotation renames in the background; give the last one a moment.
    for (let i = 0; i < 50 && !(await readdir(dataDir)).includes('connector.log.2'); i++) await sleep(100);
    const logs = (await readdir(dataDir)).filter((name) => name.startsWith('connector.log')).sort();
    expect(logs).toEqual(['connector.log', 'connector.log.1', 'connector.log.2']);
    for (const name of logs) {
      const info = await stat(join(dataDir, name));
      expect(info.size, name).toBeLessThanOrEqual(64 * 1024 + 1024);
      expect(info.mode & 0o777, name).toBe(0o600);
      const text = await readFile(join(dataDir, name), 'utf8');
      expect(text, name).not.toContain(service.apiToken);
    }
    expect(await readFile(join(dataDir, 'connector.log.1'), 'utf8')).toContain('"msg":"request completed"');
  });

  it('logs to standard output when no file is set (the default)', () => {
    expect(loadConfig({ env: {}, flags: { dataDir: root }, readFile: false }).logFile).toBe('');
  });
});
