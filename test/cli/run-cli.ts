// The bundle the global setup builds (dist/gdrive-backup.mjs) as a subprocess: shared by the
// CLI, demo and bench tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A sandbox and a private HOME, TMPDIR and data dir for CLI runs, with the env that names them. */
export interface CliWorkspace {
  sandbox: Sandbox;
  root: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function cliWorkspace(prefix: string): Promise<CliWorkspace> {
  const sandbox = await startSandbox({});
  const root = await mkdtemp(join(tmpdir(), prefix));
  const dataDir = join(root, 'data');
  await mkdir(join(root, 'tmp'));
  const env = {
    PATH: process.env.PATH,
    HOME: root,
    // The CLI's pieces go to the temp dir: a private one shows that nothing is left behind.
    TMPDIR: join(root, 'tmp'),
    ...sandbox.env,
    GDRIVE_BACKUP_DATA_DIR: dataDir,
    GDRIVE_RETRY_BASE_MS: '5',
    GDRIVE_CHUNK_SIZE: '256KiB',
  };
  return {
    sandbox,
    root,
    dataDir,
    env,
    close: async () => {
      await sandbox.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Starts `gdrive-backup ARGS` with exactly `env`, stdout and stderr piped. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['dist/gdrive-backup.mjs', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `gdrive-backup ARGS` to its end; its exit code and everything it printed. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

/** Resolves once `serve` logged that it listens; rejects with its stderr when it exits first. */
export function untilListening(serve: ChildProcess): Promise<void> {
  let stderr = '';
  serve.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise<void>((resolve, reject) => {
    createInterface({ input: serve.stdout! }).on('line', (line) => {
      if (line.includes('"msg":"listening"')) resolve();
    });
    serve.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
}
