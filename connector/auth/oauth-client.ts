/**
 * OAuth2Client construction in one place: endpoints from the config (so nothing talks to
 * Google when the config points at the sandbox), no gaxios retries, every request counted.
 */
import { OAuth2Client } from 'google-auth-library';
import type { Config } from '../config/config.js';
import { applyTransportPolicy, type RequestCounter } from '../drive/authorized-http.js';
import { GdriveBackupError } from '../errors/errors.js';

export const DRIVE_SCOPES = {
  'drive.file': 'https://www.googleapis.com/auth/drive.file',
  drive: 'https://www.googleapis.com/auth/drive',
} as const;

export function assertClientConfigured(config: Config): void {
  if (!config.clientId || !config.clientSecret) throw new GdriveBackupError('not_configured');
}

export function newOAuthClient(config: Config, counter: RequestCounter, redirectUri?: string): OAuth2Client {
  assertClientConfigured(config);
  const client = new OAuth2Client({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    ...(redirectUri === undefined ? {} : { redirectUri }),
    endpoints: {
      oauth2AuthBaseUrl: config.oauthAuthUrl,
      oauth2TokenUrl: config.oauthTokenUrl,
      oauth2RevokeUrl: config.oauthRevokeUrl,
    },
  });
  applyTransportPolicy(client, counter, config);
  return client;
}
