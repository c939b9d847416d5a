/**
 * The DriveHttp every Drive request of one object goes through: `OAuth2Client.request()` of
 * google-auth-library, which adds a fresh access token (refreshing it before expiry), wrapped so
 * that
 *  - a 401 (Google dropped the access token early) renews the token and resends, also for
 *    callers that take every status (`validateStatus: () => true`, the resumable upload). Not
 *    only once: parallel ranged GETs share one token, and a token renewed for one of them can be
 *    dropped again before its resend arrives (3 of 3 restores failed so under
 *    `files.download:expire%30`). Only the token endpoint can say the grant is gone
 *    (`invalid_grant`); a 401 after a successful refresh says nothing about it. Renewals per
 *    request are bounded (MAX_RENEWALS), then the request fails as retryable for the Pacer;
 *  - a refresh answered `invalid_grant` becomes GdriveBackupError('reconnect_required'): no
 *    retry can fix a revoked grant.
 * Counting and the ban on gaxios' own retries sit on the client's transporter (see
 * `applyTransportPolicy`), so token refreshes and revocations are covered too.
 */
import { Readable } from 'node:stream';
import type { gaxios, OAuth2Client } from 'google-auth-library';
import { GdriveBackupError } from '../errors/errors.js';
import { applyBandwidthLimit } from './bandwidth-limit.js';
import type { DriveHttp, HttpOptions, HttpResponse } from './drive-http.js';
import { DriveRequestError, failureFromError, withoutQueries } from './retry.js';

/** Requests by kind; the kinds are the sandbox's, so counts compare one to one. */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  add(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

export interface EndpointUrls {
  apiRoot: string;
  oauthTokenUrl: string;
  oauthRevokeUrl: string;
}

/** What a request is, from its method and URL: 'files.list', 'upload.chunk', 'oauth.token'... */
export function requestKind(
  method: string,
  url: string,
  contentRange: string | null,
  urls: EndpointUrls,
): string {
  const target = new URL(url);
  const bare = `${target.origin}${target.pathname}`;
  if (bare === stripQuery(urls.oauthTokenUrl)) return 'oauth.token';
  if (bare === stripQuery(urls.oauthRevokeUrl)) return 'oauth.revoke';
  const path = target.pathname.replace(/\/+$/, '');
  const verb = method.toUpperCase();
  if (/\/upload\/drive\/v3\/files$/.test(path)) {
    if (verb === 'POST')
      return target.searchParams.get('uploadType') === 'multipart' ? 'upload.multipart' : 'upload.start';
    if (verb === 'DELETE') return 'upload.cancel';
    return contentRange?.trim().startsWith('bytes */') ? 'upload.status' : 'upload.chunk';
  }
  if (/\/drive\/v3\/about$/.test(path)) return 'about.get';
  if (/\/drive\/v3\/drives\/[^/]+$/.test(path)) return 'drives.get';
  if (/\/drive\/v3\/files$/.test(path)) return verb === 'POST' ? 'files.create' : 'files.list';
  if (/\/drive\/v3\/files\/[^/]+$/.test(path)) {
    if (verb === 'DELETE') return 'files.delete';
    if (verb === 'PATCH') return 'files.update';
    return target.searchParams.get('alt') === 'media' ? 'files.download' : 'files.get';
  }
  return 'other';
}

function stripQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * Counts every request the client's transporter sends and turns gaxios' own retries off:
 * google-auth-library asks for them on token requests, but retries live in retry.ts only.
 */
export function applyTransportPolicy(
  client: OAuth2Client,
  counter: RequestCounter,
  urls: EndpointUrls,
): void {
  client.transporter.interceptors.request.add({
    resolved: async (options: gaxios.GaxiosOptionsPrepared) => {
      options.retry = false;
      options.retryConfig = { retry: 0 };
      const range = options.headers instanceof Headers ? options.headers.get('content-range') : null;
      counter.add(requestKind(options.method ?? 'GET', String(options.url), range, urls));
      return options;
    },
  });
  // urls is the connector's config: its GDRIVE_BANDWIDTH_LIMIT paces uploads and downloads.
  applyBandwidthLimit(client, urls);
}

/** Fresh tokens one request may use up on 401s before it is handed to the Pacer as a failure. */
export const MAX_RENEWALS = 4;

export class AuthorizedHttp implements DriveHttp {
  constructor(
    private readonly client: OAuth2Client,
    /** The object's name for error sentences ('subscription:12'). */
    private readonly object: string,
  ) {}

  async request<T = unknown>(options: HttpOptions): Promise<HttpResponse<T>> {
    for (let renewals = 0; ; renewals++) {
      const tokenUsed = this.client.credentials.access_token;
      let response: HttpResponse<T>;
      try {
        response = await this.client.request<T>({ ...options, retry: false });
      } catch (error) {
        const failure = failureFromError(error);
        // Neither an HTTP answer nor a network error, from inside the auth library: the token
        // endpoint answered something unreadable (a proxy's HTML page, a cut-off body). That is
        // Google's side failing, as a 502 would be: retried, then drive_unavailable.
        if (failure === undefined && !(error instanceof GdriveBackupError))
          throw new DriveRequestError({
            status: 502,
            message: `unreadable answer of the token endpoint (${withoutQueries(error instanceof Error ? error.message : String(error)).slice(0, 120)})`,
          });
        if (failure?.reason === 'invalid_grant') throw this.reconnect();
        // A token endpoint refusing the client itself: no new token will come.
        if (failure?.status !== 401 || failure.reason === 'invalid_client') throw error;
        await this.renew(tokenUsed, options, renewals);
        continue;
      }
      if (response.status === 401) {
        await this.renew(tokenUsed, options, renewals);
        continue;
      }
      return response;
    }
  }

  private reconnect(): GdriveBackupError {
    return new GdriveBackupError('reconnect_required', { object: this.object });
  }

  /**
   * Drops the rejected access token so the next request refreshes it (unless another request
   * already got a new one). The refresh itself happens in the resend: invalid_grant there means
   * reconnect, anything else is classified by the Pacer.
   */
  private async renew(
    tokenUsed: string | null | undefined,
    options: HttpOptions,
    renewals: number,
  ): Promise<void> {
    if (renewals >= MAX_RENEWALS)
      throw new DriveRequestError({
        message: `Drive refused ${renewals + 1} access tokens in a row (401) although they were refreshed`,
      });
    const credentials = this.client.credentials;
    if (credentials.access_token === tokenUsed) {
      this.client.setCredentials({ refresh_token: credentials.refresh_token ?? null });
    }
    if (!isResendable(options.data)) {
      // A stream body is spent: let the pacer run the caller again, which rebuilds it.
      throw new DriveRequestError({ message: 'access token renewed after 401; request must be sent again' });
    }
  }
}

function isResendable(data: unknown): boolean {
  if (data instanceof Readable) return false;
  if (typeof ReadableStream !== 'undefined' && data instanceof ReadableStream) return false;
  return !(data && typeof (data as { pipe?: unknown }).pipe === 'function');
}
