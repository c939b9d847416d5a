// The command line as an admin and a script meet it, as a subprocess against the sandbox:
// byte sizes, global options before the command, help after a usage error, examples, the
// settings command, exit codes a script can act on, read-only commands that change nothing,
// status facts, progress per step, Ctrl-C that cancels, and shell completion.
import { type ChildProcess, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../connector/sandbox/drive-sandbox.js';
import { type CliRun, type CliWorkspace, cliWorkspace, runCli, spawnCli } from './run-cli.js';

const execFileAsync = promisify(execFile);

let sandbox: Sandbox;
let root: string;
let dataDir: string;
let env: NodeJS.ProcessEnv;

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runCli(args, { ...env, ...extraEnv });
}

/** `gdrive-backup connect` with the sandbox as the browser. */
async function connect(args: string[] = []): Promise<void> {
  const child = spawnCli(['connect', ...args], env);
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (/^https?:\/\//.test(line)) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`connect exited ${code}`)));
  });
  const exited = once(child, 'exit');
  expect((await fetch(url)).status).toBe(200);
  expect((await exited)[0]).toBe(0);
}

/** Every file under `dir` with its sha256 (lock dirs left out: they come and go with a command). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(dir.length)] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  }
  return files;
}

/** Starts a CLI transfer with `--progress lines` and resolves at its first progress line. */
async function startTransfer(args: string[]): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawnCli([...args, '--progress', 'lines'], env);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (/^progress \d+ \d+$/m.test(stderr)) resolve();
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => reject(new Error(`transfer exited ${code} before its progress: ${stderr}`)));
  });
  return { child, stderr: () => stderr };
}

function stateText(): Promise<string> {
  return readFile(join(dataDir, 'state.json'), 'utf8');
}

let workspace: CliWorkspace;

beforeAll(async () => {
  workspace = await cliWorkspace('gdrive-cli-usability-');
  ({ sandbox, root, dataDir, env } = workspace);
});

afterAll(async () => {
  await workspace?.close();
});

describe('usage', () => {
  it('takes global options before the command, and refuses them where the command has none', async () => {
    const elsewhere = join(root, 'elsewhere');
    const status = await run(['--data-dir', elsewhere, '--object', 'customer:3', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ object: 'customer:3', connected: false });
    // The command's own option wins over the one before it.
    const own = await run(['--object', 'customer:3', 'status', '--object', 'reseller:4', '--json']);
    expect(JSON.parse(own.stdout)).toMatchObject({ object: 'reseller:4' });
    const sandboxRun = await run(['--data-dir', elsewhere, 'sandbox']);
    expect(sandboxRun.code).toBe(2);
    expect(sandboxRun.stderr).toContain('error: sandbox takes no --data-dir');
  });

  it('reads --chunk-size 16MiB like --piece-size 16MiB, with the settings parser', async () => {
    const chunk = await run(['status', '--chunk-size', '16MiB']);
    expect(chunk.code, chunk.stderr).toBe(0);
    const bad = await run(['put', 'a', 'b', '--piece-size', '16 furlongs']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"16 furlongs" is not a size');
    expect((await run(['status'], { GDRIVE_CHUNK_SIZE: '8MiB' })).code).toBe(0);
  });

  it('shows the help after a usage error, and examples in every command of this part', async () => {
    const wrong = await run(['put', 'only-one']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^error: missing required argument 'remote'$/m);
    expect(wrong.stderr).toContain('Usage: gdrive-backup put [options] <local> <remote>');
    expect(wrong.stderr).toContain('Examples:');
    const commands = [
      'sandbox',
      'disconnect',
      'status',
      'check',
      'put',
      'get',
      'ls',
      'stat',
      'mkdir',
      'rm',
    ].concat(['rmdir', 'quota', 'serve', 'demo', 'bench', 'settings', 'completion']);
    for (const command of commands) {
      const help = await run([command, '--help']);
      expect(help.stdout, command).toMatch(new RegExp(`Examples:\\n {2}\\$ gdrive-backup ${command}\\b`));
    }
  });
});

describe('read-only commands', () => {
  it('status, ls, stat and quota on a fresh data dir create nothing', async () => {
    const fresh = join(root, 'fresh');
    for (const args of [['status'], ['status', '--json'], ['ls'], ['stat', '/x'], ['quota']]) {
      const answer = await run(['--data-dir', fresh, ...args]);
      expect(answer.code, args.join(' ')).toBe(args[0] === 'status' ? 0 : 1);
    }
    expect(existsSync(fresh)).toBe(false);
  });
});

describe('against a connected account', () => {
  beforeAll(async () => {
    await connect();
  });

  it('status changes no file of the data dir', async () => {
    expect((await run(['ls'])).code).toBe(0);
    const before = await snapshot(dataDir);
    expect(Object.keys(before)).toContain('/secrets.key');
    for (const args of [['status'], ['status', '--json'], ['ls'], ['quota'], ['stat', '/']])
      expect((await run(args)).code, args.join(' ')).toBe(0);
    expect(await snapshot(dataDir)).toEqual(before);
  });

  it('status tells when connected, when the token was refreshed, the last backup and the last error', async () => {
    const data = randomBytes(700_000);
    const local = join(root, 'status.bin');
    await writeFile(local, data);
    expect((await run(['put', local, '/status/backup.tar'])).code).toBe(0);
    sandbox.setFaults('upload.chunk:quota403');
    const full = await run(['put', local, '/status/second.tar']);
    sandbox.setFaults('');
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/^error: The Google Drive of server is full/);
    // check()'s probe file is written and read back, but it is no backup.
    expect((await run(['check'])).code).toBe(0);
    const status = JSON.parse((await run(['status', '--json'])).stdout);
    const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(status).toMatchObject({
      connected: true,
      connectedAt: iso,
      tokenRefreshedAt: iso,
      lastBackup: { path: '/status/backup.tar', size: data.length, at: iso },
      lastError: { code: 'drive_full', path: '/status/second.tar', at: iso },
    });
    const human = (await run(['status'])).stdout;
    expect(human).toMatch(/^Connected: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(/m);
    expect(human).toMatch(/^Token: +refreshed \d{4}-/m);
    expect(human).toMatch(/^Last backup: +\/status\/backup\.tar, 683\.\d KiB, \d{4}-/m);
    expect(human).toMatch(
      /^Last error: +\d{4}-.*\/status\/second\.tar: The Google Drive of server is full.*\(drive_full\)$/m,
    );
  });

  it('exit codes: 3 not found, 4 a passing failure, 5 locked', async () => {
    expect((await run(['stat', '/no/such/file'])).code).toBe(3);
    sandbox.setFaults('files.list:503');
    const unavailable = await run(['ls', '/', '--max-attempts', '1']);
    sandbox.setFaults('');
    expect(unavailable.code, unavailable.stderr).toBe(4);
    expect(unavailable.stderr).toMatch(/^error: Google Drive did not answer properly/);
  });

  it('put --progress lines moves at least at each piece and ends at the size', async () => {
    const data = randomBytes(3 * 256 * 1024 + 11);
    const local = join(root, 'progress.bin');
    await writeFile(local, data);
    const put = await run(['put', local, '/progress.bin', '--piece-size', '256KiB', '--progress', 'lines']);
    expect(put.code, put.stderr).toBe(0);
    const done = [...put.stderr.matchAll(/^progress (\d+) (\d+)$/gm)].map((m) => Number(m[1]));
    expect(done[0]).toBe(0);
    expect(done.at(-1)).toBe(data.length);
    for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThan(done[i - 1]!);
    for (const boundary of [262144, 524288, 786432]) expect(done).toContain(boundary);
    const get = await run([
      'get',
      '/progress.bin',
      join(root, 'progress.back'),
      '--piece-size',
      '256KiB',
      '--progress',
      'lines',
    ]);
    const got = [...get.stderr.matchAll(/^progress (\d+) (\d+)$/gm)].map((m) => Number(m[1]));
    expect(got.at(-1)).toBe(data.length);
    expect(got).toContain(524288);
  });

  it('Ctrl-C during put cancels the handle: exit 130, no handle, no spool, nothing on Drive; a second command meanwhile is told the data dir is locked', {
    timeout: 60_000,
  }, async () => {
    const local = join(root, 'interrupted.bin');
    await writeFile(local, randomBytes(4 * 256 * 1024));
    sandbox.setFaults('upload.chunk:slow');
    try {
      const { child, stderr } = await startTransfer([
        'put',
        local,
        '/interrupted.bin',
        '--piece-size',
        '512KiB',
      ]);
      const locked = await run(['ls']);
      expect(locked.code).toBe(5);
      expect(locked.stderr).toMatch(
        /^error: Another gdrive-backup process is using .+: wait for it or stop it, then try again\.$/m,
      );
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = await exited;
      expect(code, stderr()).toBe(130);
      expect(stderr()).toMatch(
        /^error: interrupted: the upload of "\/interrupted\.bin" was cancelled after \d+ of 1048576 bytes; nothing was stored on Google Drive\.$/m,
      );
    } finally {
      sandbox.setFaults('');
    }
    expect(await stateText()).not.toMatch(/"transfer:w-/);
    expect(existsSync(join(dataDir, 'spool')) ? await readdir(join(dataDir, 'spool')) : []).toEqual([]);
    expect(sandbox.items().filter((item) => item.name === 'interrupted.bin' && !item.trashed)).toEqual([]);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('Ctrl-C during get closes the handle and removes the incomplete local file', {
    timeout: 60_000,
  }, async () => {
    const data = randomBytes(4 * 256 * 1024);
    const local = join(root, 'to-read.bin');
    await writeFile(local, data);
    expect((await run(['put', local, '/to-read.bin'])).code).toBe(0);
    const target = join(root, 'partial.bin');
    sandbox.setFaults('files.download:slow');
    try {
      const { child, stderr } = await startTransfer([
        'get',
        '/to-read.bin',
        target,
        '--piece-size',
        '256KiB',
      ]);
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = await exited;
      expect(code, stderr()).toBe(130);
      expect(stderr()).toMatch(
        /^error: interrupted: the download of "\/to-read\.bin" was cancelled after \d+ of 1048576 bytes; the incomplete ".+partial\.bin" was removed\.$/m,
      );
    } finally {
      sandbox.setFaults('');
    }
    expect(existsSync(target)).toBe(false);
    expect(await stateText()).not.toMatch(/"transfer:r-/);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });
});

describe('shell completion', () => {
  async function bashComplete(line: string): Promise<string[]> {
    const file = join(root, 'gdrive-backup.bash');
    await writeFile(file, (await run(['completion', 'bash'])).stdout);
    const words = line.split(' ');
    const script = [
      `source ${file}`,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_gdrive_backup',
      'printf "%s\\n" "$' + '{COMPREPLY[@]}"',
    ].join('\n');
    const { stdout } = await execFileAsync('bash', ['-c', script], { cwd: root });
    return stdout.split('\n').filter((w) => w !== '');
  }

  it('bash completes commands, options after global options, and object kinds', async () => {
    expect(await bashComplete('gdrive-backup pu')).toEqual(['put']);
    expect(await bashComplete('gdrive-backup --data-dir /x st')).toEqual(['status', 'stat']);
    expect(await bashComplete('gdrive-backup get --pro')).toEqual(['--progress']);
    expect(await bashComplete('gdrive-backup ls --object sub')).toEqual(['subscription:']);
    expect(await bashComplete('gdrive-backup completion z')).toEqual(['zsh']);
  });

  it('zsh loads the script and registers its completer for gdrive-backup', async () => {
    const completion = (await run(['completion', 'zsh'])).stdout;
    expect(completion.startsWith('#compdef gdrive-backup\n')).toBe(true);
    const file = join(root, '_gdrive-backup');
    await writeFile(file, completion);
    const { stdout } = await execFileAsync('zsh', [
      '-fc',
      `autoload -Uz compinit && compinit -u -D && source ${file} && print -r -- $_comps[gdrive-backup] && whence -w _gdrive_backup`,
    ]);
    expect(stdout.trim().split('\n')).toEqual(['_gdrive_backup', '_gdrive_backup: function']);
    const unknown = await run(['completion', 'fish']);
    expect(unknown.code).toBe(2);
  });
});
