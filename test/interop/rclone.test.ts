// rclone 1.60 (Debian's package: a real Drive client nobody here wrote) against the sandbox,
// through the TLS-terminating proxy of tls-proxy.ts. Every request rclone sends reaches the
// sandbox as sent; any 4xx the sandbox answers fails the test (the log names each one), so
// this proves the sandbox accepts what Google accepts, for one mature client's everyday use.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ProxiedExchange, startTlsProxy, type TlsProxy } from '../../connector/bench/tls-proxy.js';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { pattern } from '../sandbox/helpers.js';

const RCLONE = '/usr/bin/rclone';
const MIB = 1024 * 1024;
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

interface RcloneRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe('rclone drive backend against the sandbox', () => {
  let sandbox: Sandbox;
  let proxy: TlsProxy;
  let dir: string;
  let env: Record<string, string>;
  let seen = 0;
  // 6 MiB goes in one multipart request (rclone's upload cutoff is 8 MiB); 3.5 MiB with a
  // 1 MiB cutoff and 1 MiB chunks is a resumable upload of four chunks.
  const small = pattern(6 * MIB, 7);
  const large = pattern(3.5 * MIB, 9);
  const small2 = pattern(300 * 1024, 11);
  const large2 = pattern(2.5 * MIB, 13);

  /** Trust the proxy's CA; no retries (a refusal shows at once), no pacing between calls. */
  const flags = (): string[] => [
    '--ca-cert',
    proxy.caFile,
    '--low-level-retries',
    '1',
    '--retries',
    '1',
    '--drive-pacer-min-sleep',
    '1ms',
    '--contimeout',
    '5s',
    '--timeout',
    '20s',
  ];

  function rclone(...args: string[]): Promise<RcloneRun> {
    return new Promise((resolve) => {
      execFile(
        RCLONE,
        [...args, ...flags()],
        { env, encoding: 'utf8', maxBuffer: 16 * MIB, timeout: 30_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  async function ok(...args: string[]): Promise<string> {
    const r = await rclone(...args);
    expect(r.code, `rclone ${args.join(' ')} failed:\n${r.stderr}`).toBe(0);
    return r.stdout;
  }

  const item = (name: string) => sandbox.items().find((i) => i.name === name);

  beforeAll(async () => {
    sandbox = await startSandbox({ publicUrl: 'https://www.googleapis.com/' });
    proxy = await startTlsProxy({ target: sandbox.url });
    dir = await mkdtemp(join(tmpdir(), 'gdrive-rclone-'));
    const refreshToken = sandbox.issueRefreshToken({ scope: 'https://www.googleapis.com/auth/drive' });
    await writeFile(join(dir, 'rclone.conf'), '');
    await writeFile(join(dir, 'small.bin'), small);
    await writeFile(join(dir, 'large.bin'), large);
    await writeFile(join(dir, 'small2.bin'), small2);
    await writeFile(join(dir, 'large2.bin'), large2);
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      RCLONE_CONFIG: join(dir, 'rclone.conf'),
      HTTPS_PROXY: proxy.url,
      NO_PROXY: '',
      RCLONE_CONFIG_GD_TYPE: 'drive',
      RCLONE_CONFIG_GD_CLIENT_ID: sandbox.env.GDRIVE_CLIENT_ID,
      RCLONE_CONFIG_GD_CLIENT_SECRET: sandbox.env.GDRIVE_CLIENT_SECRET,
      RCLONE_CONFIG_GD_SCOPE: 'drive',
      // An access token long expired: rclone's first request refreshes it at Google's token URL.
      RCLONE_CONFIG_GD_TOKEN: JSON.stringify({
        access_token: 'ya29.expired',
        token_type: 'Bearer',
        refresh_token: refreshToken,
        expiry: '2020-01-01T00:00:00Z',
      }),
    };
  });
  afterAll(async () => {
    await proxy?.close();
    await sandbox?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  // Any refusal by the sandbox during a step fails that step, with the sandbox's own words.
  afterEach(() => {
    const fresh = proxy.exchanges.slice(seen);
    seen = proxy.exchanges.length;
    const refused = fresh.filter((e: ProxiedExchange) => e.status >= 400);
    expect(
      refused.map((e) => `${e.status} ${e.method} ${e.host}${e.path}\n  ${e.errorBody}`),
      'the sandbox refused rclone',
    ).toEqual([]);
  });

  it('about: reads the quota (the expired access token is refreshed first)', async () => {
    const before = sandbox.counters()['oauth.token'];
    const out = await ok('about', 'gd:', '--json');
    expect(JSON.parse(out)).toEqual(expect.objectContaining({ total: 15 * 1024 ** 3, used: 0 }));
    expect(sandbox.counters()['oauth.token']).toBe(before + 1);
  });

  it('mkdir', async () => {
    await ok('mkdir', 'gd:backups/sub');
    expect(item('backups')?.mimeType).toBe('application/vnd.google-apps.folder');
    expect(item('sub')?.mimeType).toBe('application/vnd.google-apps.folder');
  });

  it('copyto a 6 MiB file in one request, with its modification time', async () => {
    await ok('copyto', join(dir, 'small.bin'), 'gd:backups/small.bin');
    expect(item('small.bin')?.md5).toBe(md5(small));
    expect(sandbox.counters()['upload.multipart']).toBe(1);
  });

  it('copyto a 3.5 MiB file resumably in 1 MiB chunks', async () => {
    const before = sandbox.counters()['upload.chunk'];
    await ok(
      'copyto',
      join(dir, 'large.bin'),
      'gd:backups/sub/large.bin',
      '--drive-upload-cutoff',
      '1M',
      '--drive-chunk-size',
      '1M',
    );
    expect(item('large.bin')?.md5).toBe(md5(large));
    expect(sandbox.counters()['upload.chunk'] - before).toBe(4);
  });

  it('lsf lists names', async () => {
    const out = await ok('lsf', 'gd:backups');
    expect(out.split('\n').filter(Boolean).sort()).toEqual(['small.bin', 'sub/']);
  });

  it('lsjson -R lists sizes and modification times', async () => {
    const out = await ok('lsjson', '-R', 'gd:backups');
    const entries = JSON.parse(out) as { Path: string; Size: number; ModTime: string; IsDir: boolean }[];
    const byPath = Object.fromEntries(entries.map((e) => [e.Path, e]));
    expect(byPath['small.bin']?.Size).toBe(small.length);
    expect(byPath['sub/large.bin']?.Size).toBe(large.length);
    expect(byPath.sub?.IsDir).toBe(true);
  });

  it('md5sum lists the checksums Drive computed', async () => {
    const out = await ok('md5sum', 'gd:backups');
    expect(out.split('\n').filter(Boolean).sort()).toEqual(
      [`${md5(small)}  small.bin`, `${md5(large)}  sub/large.bin`].sort(),
    );
  });

  it('modification times survive the upload (copyto preserved them)', async () => {
    const out = await ok('lsjson', 'gd:backups/small.bin');
    const [entry] = JSON.parse(out) as { ModTime: string }[];
    const { mtimeMs } = statSync(join(dir, 'small.bin'));
    expect(Math.abs(new Date(entry!.ModTime).getTime() - mtimeMs)).toBeLessThan(1000);
  });

  it('cat --offset --count reads a range', async () => {
    const r = await new Promise<Buffer>((resolve, reject) => {
      execFile(
        RCLONE,
        ['cat', 'gd:backups/small.bin', '--offset', '1000000', '--count', '1234', ...flags()],
        { env, encoding: 'buffer', maxBuffer: 16 * MIB, timeout: 30_000 },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      );
    });
    expect(r.equals(small.subarray(1_000_000, 1_001_234))).toBe(true);
  });

  it('copy down with four streams', async () => {
    await ok(
      'copyto',
      'gd:backups/small.bin',
      join(dir, 'down', 'small.bin'),
      '--multi-thread-streams',
      '4',
      '--multi-thread-cutoff',
      '1M',
    );
    expect(md5(await readFile(join(dir, 'down', 'small.bin')))).toBe(md5(small));
  });

  it('copyto over an existing file replaces its content in one request (PATCH upload)', async () => {
    const id = item('small.bin')?.id;
    await ok('copyto', join(dir, 'small2.bin'), 'gd:backups/small.bin');
    expect(item('small.bin')?.id).toBe(id);
    expect(item('small.bin')?.md5).toBe(md5(small2));
  });

  it('copyto over an existing file replaces its content resumably (PATCH upload)', async () => {
    const id = item('large.bin')?.id;
    await ok(
      'copyto',
      join(dir, 'large2.bin'),
      'gd:backups/sub/large.bin',
      '--drive-upload-cutoff',
      '1M',
      '--drive-chunk-size',
      '1M',
    );
    expect(item('large.bin')?.id).toBe(id);
    expect(item('large.bin')?.md5).toBe(md5(large2));
  });

  it('moveto renames on the server', async () => {
    await ok('moveto', 'gd:backups/small.bin', 'gd:backups/renamed.bin');
    expect(item('renamed.bin')?.md5).toBe(md5(small2));
    expect(item('small.bin')).toBeUndefined();
  });

  it('touch sets a modification time', async () => {
    await ok('touch', 'gd:backups/renamed.bin', '--timestamp', '2024-05-06T07:08:09');
    const out = await ok('lsjson', 'gd:backups/renamed.bin');
    const [entry] = JSON.parse(out) as { ModTime: string }[];
    expect(new Date(entry!.ModTime).toISOString()).toBe(new Date('2024-05-06T07:08:09').toISOString());
  });

  it('delete moves to the trash', async () => {
    await ok('delete', 'gd:backups/renamed.bin');
    expect(item('renamed.bin')?.trashed).toBe(true);
  });

  it('delete with --drive-use-trash=false deletes for good', async () => {
    await ok('delete', 'gd:backups/sub/large.bin', '--drive-use-trash=false');
    expect(item('large.bin')).toBeUndefined();
  });

  it('rmdir removes an empty folder', async () => {
    await ok('rmdir', 'gd:backups/sub');
    expect(item('sub')?.trashed ?? true).toBe(true);
  });

  it('purge removes a folder with its content', async () => {
    await ok('copyto', join(dir, 'small2.bin'), 'gd:gone/a.bin');
    await ok('purge', 'gd:gone', '--drive-use-trash=false');
    expect(item('gone')).toBeUndefined();
    expect(item('a.bin')).toBeUndefined();
  });
});
