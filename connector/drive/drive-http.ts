/**
 * The authenticated HTTP client every Drive request goes through.
 *
 * It is `OAuth2Client.request()` of google-auth-library (tokens refreshed before expiry and
 * after a 401, new tokens persisted by the auth module), wrapped so that a refresh answered with
 * `invalid_grant` surfaces as GdriveBackupError('reconnect_required') and every request is
 * counted by kind. googleapis' Drive client and the resumable upload / ranged download share it.
 */
import type { gaxios } from 'google-auth-library';

export type HttpOptions = gaxios.GaxiosOptions;
export type HttpResponse<T> = gaxios.GaxiosResponse<T>;

export interface DriveHttp {
  /**
   * Sends one request with a fresh access token. With `validateStatus: notUnauthorized` it
   * resolves for every HTTP status but 401 (the resumable upload needs 308); otherwise non-2xx
   * rejects with a GaxiosError that retry.ts classifies.
   */
  request<T = unknown>(options: HttpOptions): Promise<HttpResponse<T>>;
}

/**
 * validateStatus of the upload and download requests, which read every status themselves: all
 * but 401 come back as responses; 401 rejects so the auth client refreshes and retries once.
 */
export const notUnauthorized = (status: number): boolean => status !== 401;
