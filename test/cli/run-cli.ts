// The bundle the global setup builds (dist/gdrive-backup.mjs) as a subprocess: shared by the
// CLI, demo and bench tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
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
