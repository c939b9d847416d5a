/**
 * The sandbox's registered OAuth clients, as Google Cloud console keeps them: an id, a secret,
 * a type and, for a "Web application" client, its authorized redirect URIs.
 *
 * Which redirect_uri a client may use (shared/reference/google-drive-facts.md, "Redirect URIs"):
 * - "Web application": only a registered URI, compared exactly (scheme, host, port, path and
 *   trailing slash). Google: developers.google.com/identity/protocols/oauth2/web-server
 *   (redirect_uri "must exactly match one of the authorized redirect URIs ... the http or https
 *   scheme, case, and trailing slash ('/') must all match"), else Error 400 redirect_uri_mismatch.
 *   The console refuses to register plain http except for localhost and loopback addresses, and
 *   raw IP hosts other than loopback ("Redirect URI validation rules" on the same page).
 * - "Desktop app": the loopback IP address flow, http://127.0.0.1:<port>, http://[::1]:<port>
 *   or http://localhost:<port>, any port, chosen at request time
 *   (developers.google.com/identity/protocols/oauth2/native-app#redirect-uri_loopback; RFC 8252
 *   §7.3 "MUST allow any port"). Desktop clients have no redirect URI list in the console. rclone
 *   registers a Desktop app and listens on 127.0.0.1:53682 (rclone docs/content/drive.md,
 *   lib/oauthutil/oauthutil.go).
 */

export type OAuthClientType = 'web' | 'desktop';

/** How a test, the demo or `gdrive-backup sandbox` describes a client to register. */
export interface OAuthClientSpec {
  secret: string;
  /** Default 'desktop', or 'web' when redirectUris are given. */
  type?: OAuthClientType;
  /** Authorized redirect URIs of a Web application client. */
  redirectUris?: string[];
}

export interface RegisteredClient {
  readonly id: string;
  readonly secret: string;
  readonly type: OAuthClientType;
  readonly redirectUris: readonly string[];
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** A client as the console would store it; throws with the console's reason otherwise. */
export function registerClient(id: string, spec: OAuthClientSpec): RegisteredClient {
  const redirectUris = spec.redirectUris ?? [];
  const type = spec.type ?? (redirectUris.length > 0 ? 'web' : 'desktop');
  if (type === 'desktop' && redirectUris.length > 0) {
    throw new Error(`OAuth client ${id}: a Desktop app client has no registered redirect URIs`);
  }
  for (const uri of redirectUris) {
    const problem = registrationProblem(uri);
    if (problem) throw new Error(`OAuth client ${id}: invalid redirect URI ${uri}: ${problem}`);
  }
  return { id, secret: spec.secret, type, redirectUris: [...redirectUris] };
}

function registrationProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'not an absolute URI';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use https (or http on localhost)';
  if (url.hash !== '' || uri.includes('#')) return 'must not contain a fragment';
  if (uri.includes('*')) return 'must not contain a wildcard';
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol === 'http:' && !loopback) return 'must use https unless the host is localhost';
  if (!loopback && /^[\d.]+$|^\[/.test(url.hostname)) return 'a host must not be a raw IP address';
  return null;
}

/** Whether `client` may send the browser to `redirectUri`. */
export function redirectAllowed(client: RegisteredClient, redirectUri: string): boolean {
  if (client.type === 'web') return client.redirectUris.includes(redirectUri);
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return false;
  }
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && url.hash === '';
}
