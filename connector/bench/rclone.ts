/**
 * rclone as the benchmark's yardstick: Debian's `rclone` (the best-known Drive client, written by
 * nobody here) run against the same sandbox as the connector, through the TLS-terminating proxy
 * (`tls-proxy.ts`), because its Drive hosts are fixed. Its remote is configured entirely through
 * RCLONE_CONFIG_* variables in a private HOME, so nothing of the caller's rclone setup leaks in.
 */
import { spawnSync } from 'node:child_process';
import { type ChildRun, measureChild, type SandboxEnv } from './child-processes.js';
import { rcloneDriveEnv } from './rclone-env.js';
import type { TlsProxy } from './tls-proxy.js';

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
  proxy: TlsProxy;
  /** Private HOME and config dir. */
  home: string;
}

/**
 * Runs `rclone <args>` with a remote `gd:` (the interop test's rcloneDriveEnv) and measures it
 * (measureChild). rclone keeps its own pacer at its default: the yardstick runs as shipped.
 */
export class Rclone {
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: RcloneOptions) {
    const sandbox = options.sandboxEnv;
    this.env = rcloneDriveEnv(
      {
        clientId: sandbox.GDRIVE_CLIENT_ID ?? '',
        clientSecret: sandbox.GDRIVE_CLIENT_SECRET ?? '',
        refreshToken: options.refreshToken,
        dir: options.home,
      },
      options.proxy,
    );
  }

  /** `copyto LOCAL gd:REMOTE` (upload) or `copyto gd:REMOTE LOCAL` (download). */
  async copyto(from: string, to: string, flags: string[] = []): Promise<ChildRun> {
    return this.run(['copyto', from, to, ...flags]);
  }

  run(args: string[]): Promise<ChildRun> {
    return measureChild('rclone', [...args, '--ca-cert', this.options.proxy.caFile], this.env);
  }
}
