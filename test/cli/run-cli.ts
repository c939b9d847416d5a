// The bundle the global setup builds (dist/gdrive-backup.mjs) as a subprocess: shared by the
// CLI, demo and bench tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

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
