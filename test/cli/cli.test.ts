// `gdrive-backup` as a subprocess (the bundle the global setup builds) against the sandbox:
// connect through the printed consent URL, every file command, exit codes, help, bad settings,
// the same commands through a running service, and the `sandbox` command.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5, sha256 } from '../service/harness.js';
import { type CliRun, type CliWorkspace, cliWorkspace, runCli, spawnCli, untilListening } from './run-cli.js';

const version = JSON.parse(await readFile('package.json', 'utf8')).version as string;

let root: string;
let env: NodeJS.ProcessEnv;

function cli(args: string[]): ChildProcess {
  return spawnCli(args, env);
}

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runCli(args, { ...env, ...extraEnv });
}

let workspace: CliWorkspace;

beforeAll(async () => {
  workspace = await cliWorkspace('gdrive-cli-test-');
  ({ root, env } = workspace);
});

afterAll(async () => {
  await workspace?.close();
});

describe('usage', () => {
  it('prints help with every command, the exit codes and where the settings are, exit 0', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const command of [
      'sandbox',
      'connect',
      'disconnect',
      'status',
      'check',
      'put',
      'get',
      'ls',
      'stat',
      'mkdir',
      'rm',
      'rmdir',
      'quota',
      'serve',
      'demo',
      'bench',
      'settings',
      'completion',
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    // The settings table has its own command; the top-level help says where it is.
    expect(help.stdout).not.toContain('GDRIVE_CHUNK_SIZE');
    expect(help.stdout).toContain('gdrive-backup settings');
    expect(help.stdout).toMatch(/^ {2}3 +not found/m);
    expect(help.stdout).toMatch(/^ {2}4 +a passing failure/m);
    expect(help.stdout).toMatch(/^ {2}5 +locked/m);
    const settings = await run(['settings']);
    expect(settings.code).toBe(0);
    expect(settings.stdout).toContain('GDRIVE_CHUNK_SIZE');
    expect(settings.stdout).toContain('--idle-timeout');
    expect(settings.stdout).toContain('GDRIVE_BANDWIDTH_LIMIT');
    const put = await run(['put', '--help']);
    expect(put.code).toBe(0);
    expect(put.stdout).toContain('--piece-size');
    expect(put.stdout).toContain('--object');
    expect(put.stdout).toContain('--data-dir');
    expect((await run(['--version'])).stdout.trim()).toBe(version);
  });

  it('exits 2 on bad usage and bad settings, naming the setting', async () => {
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
    expect((await run(['put', 'only-one'])).code).toBe(2);
    expect((await run(['get', 'a', 'b', '--offset', 'lots'])).code).toBe(2);
    expect((await run(['ls', '--no-such-flag'])).code).toBe(2);
    const badFlag = await run(['ls', '--chunk-size', '1000']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/chunkSize/);
    expect(badFlag.stderr).toMatch(/262144/);
    expect(badFlag.stderr.trim().split('\n')).toHaveLength(1);
    const badEnv = await run(['ls'], { GDRIVE_DOWNLOAD_STREAMS: 'many' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/GDRIVE_DOWNLOAD_STREAMS/);
    const badObject = await run(['ls', '--object', 'planet:3']);
    expect(badObject.code).toBe(2);
    expect(badObject.stderr).toMatch(/planet:3/);
  });
});

describe('commands against the sandbox', () => {
  it('reports an unconnected object: status exit 0, ls exit 1 with one sentence', async () => {
    const status = await run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/not connected/);
    const ls = await run(['ls']);
    expect(ls.code).toBe(1);
    expect(ls.stderr.trim()).toBe(
      'error: No Google account is connected for server: run "gdrive-backup connect --object server".',
    );
  });

  it('connects through the printed consent URL and prints the e-mail', async () => {
    const child = cli(['connect']);
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        stdout += `${line}\n`;
        if (/^https?:\/\//.test(line)) resolve(line);
      });
      child.once('exit', (code) => reject(new Error(`connect exited ${code}: ${stdout}`)));
    });
    const exited = once(child, 'exit');
    // The "browser": the sandbox approves and redirects to connect's loopback listener.
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('admin@example.com');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(stdout).toMatch(/Connected server to Google Drive as admin@example\.com/);
    const status = await run(['status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({
      object: 'server',
      connected: true,
      email: 'admin@example.com',
      quota: { total: expect.any(Number) },
      via: 'in-process',
    });
  });

  it('check, mkdir, put/get round trip, ls/stat --json, rm, rmdir, quota', async () => {
    const check = await run(['check']);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^OK/);
    expect((await run(['mkdir', '/dumps/2611'])).code).toBe(0);

    const data = randomBytes(3 * 1024 * 1024 + 1);
    const local = join(root, 'backup.tar');
    await writeFile(local, data);
    const put = await run(['put', local, '/dumps/2611/backup.tar', '--piece-size', '1MiB']);
    expect(put.stderr).toBe('');
    expect(put.code).toBe(0);
    expect(put.stdout.trim()).toMatch(
      new RegExp(`^put ${data.length} bytes in [\\d.]+ s, [\\d.]+ MiB/s, sha256 ${sha256(data)}$`),
    );
    const stat = await run(['stat', '/dumps/2611/backup.tar', '--json']);
    expect(JSON.parse(stat.stdout)).toEqual({
      name: 'backup.tar',
      size: data.length,
      isDir: false,
      hash: md5(data),
    });
    const ls = await run(['ls', '/dumps', '--json']);
    expect(JSON.parse(ls.stdout)).toEqual([{ name: '2611', size: 0, isDir: true }]);
    const human = await run(['ls', '/dumps/2611']);
    expect(human.stdout).toContain('backup.tar');

    const back = join(root, 'back.tar');
    const get = await run(['get', '/dumps/2611/backup.tar', back, '--piece-size', '1000000']);
    expect(get.code).toBe(0);
    expect(get.stdout.trim()).toMatch(new RegExp(`^get ${data.length} bytes in .* sha256 ${sha256(data)}$`));
    expect((await readFile(back)).equals(data)).toBe(true);
    const part = join(root, 'part.bin');
    const ranged = await run([
      'get',
      '/dumps/2611/backup.tar',
      part,
      '--offset',
      '1048575',
      '--size',
      '70000',
    ]);
    expect(ranged.code).toBe(0);
    expect((await readFile(part)).equals(data.subarray(1048575, 1048575 + 70000))).toBe(true);

    expect(await readdir(join(root, 'tmp'))).toEqual([]);

    const quota = await run(['quota', '--json']);
    expect(JSON.parse(quota.stdout)).toEqual({ total: expect.any(Number), free: expect.any(Number) });

    expect((await run(['rm', '/dumps/2611/backup.tar'])).code).toBe(0);
    const gone = await run(['stat', '/dumps/2611/backup.tar']);
    expect(gone.code).toBe(3);
    expect(gone.stderr.trim()).toBe('error: There is no "/dumps/2611/backup.tar" on Google Drive.');
    expect((await run(['rmdir', '/dumps'])).code).toBe(0);
    expect((await run(['ls', '/dumps'])).code).toBe(3);
    const missingLocal = await run(['put', join(root, 'nope'), '/x']);
    expect(missingLocal.code).toBe(1);
    expect(missingLocal.stderr.trim()).toBe(
      `error: The local file "${join(root, 'nope')}" cannot be used: it does not exist.`,
    );
  });

  it('goes through the running service when there is one', { timeout: 60_000 }, async () => {
    const serve = cli(['serve']);
    await untilListening(serve);
    try {
      const status = await run(['status', '--json']);
      expect(JSON.parse(status.stdout)).toMatchObject({ connected: true, via: 'service' });
      const data = randomBytes(300_000);
      const local = join(root, 'via-service.bin');
      await writeFile(local, data);
      const put = await run(['put', local, '/via-service.bin', '--piece-size', '100000']);
      expect(put.code).toBe(0);
      expect(put.stdout).toContain(sha256(data));
      const back = join(root, 'via-service.back');
      expect((await run(['get', '/via-service.bin', back])).code).toBe(0);
      expect((await readFile(back)).equals(data)).toBe(true);
      const missing = await run(['stat', '/nothing-here']);
      expect(missing.code).toBe(3);
      expect(missing.stderr.trim()).toBe('error: There is no "/nothing-here" on Google Drive.');
    } finally {
      serve.kill('SIGTERM');
      const [code] = await once(serve, 'exit');
      expect(code).toBe(0);
    }
  });

  it('disconnects', async () => {
    const done = await run(['disconnect']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/Disconnected server/);
    expect((await run(['status'])).stdout).toMatch(/not connected/);
  });
});

describe('sandbox command', () => {
  it('prints six GDRIVE_ lines, then ready, and stops on SIGTERM', async () => {
    const child = cli(['sandbox', '--port', '0']);
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line === 'ready') resolve();
      });
      child.once('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
    });
    const vars = lines.filter((l) => /^GDRIVE_[A-Z_]+=/.test(l));
    expect(vars).toHaveLength(6);
    expect(lines.indexOf('ready')).toBe(lines.length - 1);
    const apiRoot = vars.find((l) => l.startsWith('GDRIVE_API_ROOT='))!.split('=')[1]!;
    expect((await fetch(`${apiRoot}drive/v3/about?fields=user`)).status).toBe(401);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect((await run(['sandbox', '--port', 'x'])).code).toBe(2);
  });
});
