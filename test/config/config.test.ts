import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, SETTINGS } from '../../connector/config/config.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gdrive-config-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('gives every setting a default', () => {
    const config = loadConfig({ env: { GDRIVE_BACKUP_DATA_DIR: tempDir() } });
    for (const setting of SETTINGS) expect(config[setting.key], setting.key).toBeDefined();
    expect(config.apiRoot).toBe('https://www.googleapis.com/');
    expect(config.chunkSize % (256 * 1024)).toBe(0);
    expect(config.socketPath).toBe(join(config.dataDir, 'connector.sock'));
  });

  it('layers defaults < config file < environment < flags', () => {
    const dataDir = tempDir();
    writeFileSync(
      join(dataDir, 'config.json'),
      JSON.stringify({ downloadStreams: 2, maxAttempts: 3, logLevel: 'warn', rootFolder: 'From file' }),
    );
    const config = loadConfig({
      env: { GDRIVE_BACKUP_DATA_DIR: dataDir, GDRIVE_MAX_ATTEMPTS: '5', GDRIVE_BACKUP_LOG_LEVEL: 'debug' },
      flags: { logLevel: 'error' },
    });
    expect(config.downloadStreams).toBe(2);
    expect(config.maxAttempts).toBe(5);
    expect(config.logLevel).toBe('error');
    expect(config.rootFolder).toBe('From file');
  });

  it('normalises the API root to end with a slash', () => {
    const config = loadConfig({
      env: { GDRIVE_BACKUP_DATA_DIR: tempDir(), GDRIVE_API_ROOT: 'http://127.0.0.1:9/' },
    });
    expect(config.apiRoot).toBe('http://127.0.0.1:9/');
    expect(
      loadConfig({ env: { GDRIVE_BACKUP_DATA_DIR: tempDir(), GDRIVE_API_ROOT: 'http://127.0.0.1:9' } })
        .apiRoot,
    ).toBe('http://127.0.0.1:9/');
  });

  it.each([
    ['GDRIVE_CHUNK_SIZE', '1000000', /GDRIVE_CHUNK_SIZE.*multiple of 262144/],
    ['GDRIVE_CHUNK_SIZE', 'lots', /GDRIVE_CHUNK_SIZE.*not a size; accepted: .*MiB/],
    ['GDRIVE_BANDWIDTH_LIMIT', '20 furlongs', /GDRIVE_BANDWIDTH_LIMIT.*not a size/],
    ['GDRIVE_BACKUP_LOG_KEEP', '0', /GDRIVE_BACKUP_LOG_KEEP.*out of range 1\.\.100/],
    ['GDRIVE_BACKUP_LOG_FILE', 'relative.log', /GDRIVE_BACKUP_LOG_FILE.*absolute path/],
    ['GDRIVE_SCOPE', 'everything', /GDRIVE_SCOPE.*drive\.file or drive/],
    ['GDRIVE_API_ROOT', 'ftp://example.com/', /GDRIVE_API_ROOT.*http\(s\) URL/],
    ['GDRIVE_DOWNLOAD_STREAMS', '0', /GDRIVE_DOWNLOAD_STREAMS.*out of range/],
    ['GDRIVE_BACKUP_STORE_URL', 'mysql://x', /GDRIVE_BACKUP_STORE_URL/],
    ['GDRIVE_BACKUP_LISTEN', 'localhost', /GDRIVE_BACKUP_LISTEN.*HOST:PORT/],
    ['GDRIVE_EXCHANGE_DIRS', 'relative/dir', /GDRIVE_EXCHANGE_DIRS.*absolute path/],
  ])('refuses %s=%s naming the setting and what it accepts', (name, value, message) => {
    const env = { GDRIVE_BACKUP_DATA_DIR: tempDir(), [name]: value };
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('refuses an unknown key or bad JSON in the config file', () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ chunkSiz: 1 }));
    expect(() => loadConfig({ env: { GDRIVE_BACKUP_DATA_DIR: dataDir } })).toThrow(
      /chunkSiz.*unknown setting/,
    );
    writeFileSync(join(dataDir, 'config.json'), '{ not json');
    expect(() => loadConfig({ env: { GDRIVE_BACKUP_DATA_DIR: dataDir } })).toThrow(/not a JSON object/);
  });

  it('reads every size setting with the one byte-size parser (16MiB, 256KiB, 1G, plain bytes)', () => {
    const config = loadConfig({
      env: {
        GDRIVE_BACKUP_DATA_DIR: tempDir(),
        GDRIVE_CHUNK_SIZE: '16MiB',
        GDRIVE_DOWNLOAD_RANGE_SIZE: '256KiB',
        GDRIVE_LOW_QUOTA_BYTES: '1G',
        GDRIVE_BANDWIDTH_LIMIT: '20MiB',
        GDRIVE_BACKUP_LOG_MAX_SIZE: '1048576',
      },
      flags: { logKeep: '3' },
    });
    expect(config.chunkSize).toBe(16 * 1024 * 1024);
    expect(config.downloadRangeSize).toBe(256 * 1024);
    expect(config.lowQuotaBytes).toBe(1024 ** 3);
    expect(config.bandwidthLimit).toBe(20 * 1024 * 1024);
    expect(config.logMaxSize).toBe(1024 * 1024);
    expect(config.logKeep).toBe(3);
    // The same spellings a CLI flag takes: KB, MB are 1024-based too, as rclone's sizes.
    expect(
      loadConfig({ env: { GDRIVE_BACKUP_DATA_DIR: tempDir() }, flags: { chunkSize: '16MB' } }).chunkSize,
    ).toBe(16 * 1024 * 1024);
    const unlimited = loadConfig({ env: { GDRIVE_BACKUP_DATA_DIR: tempDir() } });
    expect([unlimited.bandwidthLimit, unlimited.logFile]).toEqual([0, '']);
  });

  it('reads exchange directories as a path list', () => {
    const config = loadConfig({
      env: { GDRIVE_BACKUP_DATA_DIR: tempDir(), GDRIVE_EXCHANGE_DIRS: '/srv/a:/srv/b/../c' },
    });
    expect(config.exchangeDirs).toEqual(['/srv/a', '/srv/c']);
  });
});
