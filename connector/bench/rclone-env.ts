/**
 * How to point rclone 1.60's drive backend (Debian's `rclone`) at the sandbox through the TLS
 * proxy of tls-proxy.ts, with no config file of its own: the remote `gd:` comes from
 * RCLONE_CONFIG_GD_* variables (rclone docs/content/docs.md, "Config file" via environment).
 * Its token is already expired, so rclone's first request refreshes it at
 * https://oauth2.googleapis.com/token (its built-in Google endpoint), i.e. at the sandbox.
 */
import type { TlsProxy } from './tls-proxy.js';

export interface RcloneRemote {
  clientId: string;
  clientSecret: string;
  /** A refresh token the sandbox issued (scope drive: rclone's default). */
  refreshToken: string;
  /** Where rclone keeps its (empty) config file and its HOME. */
  dir: string;
}

/** The environment for `rclone ... gd:...`: the remote, the proxy, nothing inherited but PATH. */
export function rcloneDriveEnv(remote: RcloneRemote, proxy: TlsProxy): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: remote.dir,
    RCLONE_CONFIG: `${remote.dir}/rclone.conf`,
    HTTPS_PROXY: proxy.url,
    NO_PROXY: '',
    RCLONE_CONFIG_GD_TYPE: 'drive',
    RCLONE_CONFIG_GD_CLIENT_ID: remote.clientId,
    RCLONE_CONFIG_GD_CLIENT_SECRET: remote.clientSecret,
    RCLONE_CONFIG_GD_SCOPE: 'drive',
    RCLONE_CONFIG_GD_TOKEN: JSON.stringify({
      access_token: 'ya29.expired',
      token_type: 'Bearer',
      refresh_token: remote.refreshToken,
      expiry: '2020-01-01T00:00:00Z',
    }),
  };
}

/** Flags every run needs: trust the proxy's CA; no pause between API calls (the pacer's 100 ms). */
export function rcloneBaseFlags(proxy: TlsProxy): string[] {
  return ['--ca-cert', proxy.caFile, '--drive-pacer-min-sleep', '1ms'];
}
