/**
 * What `gdrive-backup sandbox` runs: start the sandbox, print the `NAME=value` lines a shell
 * can export (one per env entry), then `ready`, serve until SIGTERM/SIGINT (or the signal), close.
 */
import { type SandboxOptions, startSandbox } from './drive-sandbox.js';

export async function runSandboxCommand(
  options: SandboxOptions,
  out: NodeJS.WritableStream,
  signal?: AbortSignal,
): Promise<void> {
  // A bad fault spec makes startSandbox throw with its message before anything listens.
  const sandbox = await startSandbox(options);
  try {
    for (const [name, value] of Object.entries(sandbox.env)) out.write(`${name}=${value}\n`);
    out.write('ready\n');
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        signal?.removeEventListener('abort', stop);
        resolve();
      };
      if (signal?.aborted) return stop();
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      signal?.addEventListener('abort', stop);
    });
  } finally {
    await sandbox.close();
  }
}
