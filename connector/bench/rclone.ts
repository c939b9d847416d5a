/**
 * rclone as the benchmark's yardstick: Debian's `rclone` (the best-known Drive client, written by
 * nobody here) run against the same sandbox as the connector, through the TLS-terminating proxy
 * (`tls-proxy.ts`), because its Drive hosts are fixed. Its remote is configured entirely through
 * RCLONE_CONFIG_* variables in a private HOME, so nothing of the caller's rclone setup leaks in.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type ChildRun, measureChild, type SandboxEnv } from './child-processes.js';

/** The rclone binary on PATH and its version line, or null when it is not installed. */
export function findRclone(): { path: string; version: string } | null {
  const probe = spawnSync('rclone', ['version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return null;
  return { path: 'rclone', version: (probe.stdout.split('\n')[0] ?? '').trim() };
}

export interface RcloneOptions {
  sandboxEnv: SandboxEnv;
  /** A refresh token the sandbox issued for its OAuth client. */
  refreshToken: string;
  proxyUrl: string;
  caFile: string;
  /** Private HOME and config dir. */
  home: string;
}

/**
 * Runs `rclone <args>` with a remote `gd:` and measures it (measureChild).
 */
export class Rclone {
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: RcloneOptions) {
    const sandbox = options.sandboxEnv;
    this.env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: options.home,
      RCLONE_CONFIG: join(options.home, 'rclone.conf'),
      HTTPS_PROXY: options.proxyUrl,
      NO_PROXY: '',
      RCLONE_CONFIG_GD_TYPE: 'drive',
      RCLONE_CONFIG_GD_CLIENT_ID: sandbox.GDRIVE_CLIENT_ID ?? '',
      RCLONE_CONFIG_GD_CLIENT_SECRET: sandbox.GDRIVE_CLIENT_SECRET ?? '',
      RCLONE_CONFIG_GD_SCOPE: 'drive.file',
      // Expired on purpose: rclone's first request refreshes it, like after a night's pause.
      RCLONE_CONFIG_GD_TOKEN: JSON.stringify({
        access_token: 'expired',
        token_type: 'Bearer',
        refresh_token: options.refreshToken,
        expiry: '2020-01-01T00:00:00Z',
      }),
    };
  }

  /** `copyto LOCAL gd:REMOTE` (upload) or `copyto gd:REMOTE LOCAL` (download). */
  async copyto(from: string, to: string, flags: string[] = []): Promise<ChildRun> {
    return this.run(['copyto', from, to, ...flags]);
  }

  run(args: string[]): Promise<ChildRun> {
    return measureChild('rclone', [...args, '--ca-cert', this.options.caFile], this.env);
  }
}
