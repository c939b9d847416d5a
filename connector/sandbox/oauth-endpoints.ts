/**
 * Google's OAuth2 endpoints as the connector meets them: the consent page (answered at once,
 * approve or deny), the token endpoint (authorization_code with PKCE, refresh_token) and
 * revocation. Errors use OAuth's shape `{error, error_description}` with Google's statuses.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type Exchange, OAuthError, readAll, sendBuffer, sendJson } from './http-io.js';
import { redirectAllowed } from './oauth-clients.js';
import { type AccessGrant, KNOWN_SCOPES, randomId, type SandboxCore } from './sandbox-state.js';

const CODE_LIFETIME_MS = 10 * 60 * 1000;

/** The 400 page Google shows instead of redirecting when the request itself is broken. */
function errorPage(ex: Exchange, error: string, description: string): Promise<void> {
  const wantsJson = /application\/json/.test(ex.req.headers.accept ?? '');
  if (wantsJson) return sendJson(ex, 400, { error, error_description: description });
  const html = `<!DOCTYPE html><html><head><title>Error 400 (${error})</title></head><body><h1>Access blocked: authorisation error</h1><p>Error 400: ${error}</p><p>${escapeHtml(description)}</p></body></html>`;
  return sendBuffer(ex, 400, Buffer.from(html), { 'content-type': 'text/html; charset=utf-8' });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function authorize(core: SandboxCore, ex: Exchange): Promise<void> {
  const p = ex.url.searchParams;
  const clientId = p.get('client_id');
  if (!clientId) return errorPage(ex, 'invalid_request', 'Missing required parameter: client_id');
  const client = core.config.clients.get(clientId);
  if (!client) return errorPage(ex, 'invalid_client', 'The OAuth client was not found.');
  const redirectUri = p.get('redirect_uri');
  if (!redirectUri) return errorPage(ex, 'invalid_request', 'Missing required parameter: redirect_uri');
  // Google shows its error page and never redirects to a URI it does not trust (oauth-clients.ts).
  if (!redirectAllowed(client, redirectUri)) {
    return errorPage(
      ex,
      'redirect_uri_mismatch',
      `The redirect URI in the request, ${redirectUri}, does not match the ones authorized for the OAuth client.`,
    );
  }
  const redirect = new URL(redirectUri);
  const responseType = p.get('response_type');
  if (!responseType) return errorPage(ex, 'invalid_request', 'Missing required parameter: response_type');
  if (responseType !== 'code') {
    return errorPage(ex, 'unsupported_response_type', `Unsupported response_type: ${responseType}`);
  }
  const scope = p.get('scope');
  if (!scope?.trim()) return errorPage(ex, 'invalid_request', 'Missing required parameter: scope');
  const scopes = scope.trim().split(/\s+/);
  const unknown = scopes.find((s) => !KNOWN_SCOPES.has(s));
  if (unknown) return errorPage(ex, 'invalid_scope', `Some requested scopes were invalid: ${unknown}`);
  const state = p.get('state');
  if (!state) return errorPage(ex, 'invalid_request', 'Missing required parameter: state');
  const accessType = p.get('access_type') ?? 'online';
  if (accessType !== 'online' && accessType !== 'offline') {
    return errorPage(ex, 'invalid_request', `Invalid access_type: ${accessType}`);
  }
  const prompt = p.get('prompt');
  if (prompt !== null && !prompt.split(' ').every((x) => ['none', 'consent', 'select_account'].includes(x))) {
    return errorPage(ex, 'invalid_request', `Invalid prompt: ${prompt}`);
  }
  const challenge = p.get('code_challenge');
  const method = p.get('code_challenge_method');
  if (challenge !== null) {
    if (method !== 'S256') {
      return errorPage(ex, 'invalid_request', 'Invalid code_challenge_method: only S256 is accepted.');
    }
    if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
      return errorPage(ex, 'invalid_request', 'Invalid code_challenge: expected a base64url SHA-256.');
    }
  } else if (method !== null) {
    return errorPage(ex, 'invalid_request', 'code_challenge_method given without code_challenge');
  }

  const back = new URL(redirect);
  if (core.config.consent === 'deny') {
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('state', state);
  } else {
    const email = core.config.userEmail;
    const pair = `${email} ${clientId}`;
    const firstConsent = !core.state.consented.has(pair);
    core.state.consented.add(pair);
    const code = `4/sandbox-${randomId(30)}`;
    core.state.codes.set(code, {
      code,
      clientId,
      redirectUri,
      scopes,
      email,
      ...(challenge !== null ? { challenge } : {}),
      offline: accessType === 'offline',
      giveRefreshToken: accessType === 'offline' && (firstConsent || (prompt ?? '').includes('consent')),
      issuedAt: Date.now(),
      used: false,
    });
    back.searchParams.set('state', state);
    back.searchParams.set('code', code);
    back.searchParams.set('scope', scopes.join(' '));
  }
  ex.res.writeHead(302, { location: back.toString(), 'content-length': '0' });
  ex.res.end();
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readForm(ex: Exchange): Promise<URLSearchParams> {
  const body = await readAll(ex, 64 * 1024);
  const type = ex.req.headers['content-type'] ?? '';
  if (body.length > 0 && !/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new OAuthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded.');
  }
  return new URLSearchParams(body.toString('utf8'));
}

/** The client's id and secret, from the form or from HTTP Basic (form-encoded inside, per RFC 6749). */
function clientCredentials(
  ex: Exchange,
  form: URLSearchParams,
): { id: string | null; secret: string | null } {
  const header = ex.req.headers.authorization;
  const basic = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError(401, 'invalid_client', 'Unauthorized');
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    };
  }
  return { id: form.get('client_id'), secret: form.get('client_secret') };
}

/** OAuthErrors thrown here and below are answered in OAuth's shape by the server's error handler. */
export async function token(core: SandboxCore, ex: Exchange): Promise<void> {
  const form = await readForm(ex);
  const client = clientCredentials(ex, form);
  if (!client.id) throw new OAuthError(400, 'invalid_request', 'Could not determine client ID from request.');
  const registered = core.config.clients.get(client.id);
  if (registered === undefined)
    throw new OAuthError(401, 'invalid_client', 'The OAuth client was not found.');
  if (client.secret === null || !sameSecret(client.secret, registered.secret)) {
    throw new OAuthError(401, 'invalid_client', 'Unauthorized');
  }
  const grantType = form.get('grant_type');
  if (!grantType) throw new OAuthError(400, 'invalid_request', 'Missing required parameter: grant_type');
  if (grantType === 'authorization_code') return exchangeCode(core, ex, form, client.id);
  if (grantType === 'refresh_token') return refresh(core, ex, form, client.id);
  throw new OAuthError(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType}`);
}

/** The token endpoint's 200: the new access token, and the refresh token when one is handed out. */
function tokenAnswer(
  core: SandboxCore,
  ex: Exchange,
  access: AccessGrant,
  refreshToken?: string,
): Promise<void> {
  const body = {
    access_token: access.token,
    expires_in: core.state.accessTokenLifetimeSec,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    scope: access.scopes.join(' '),
    token_type: 'Bearer',
  };
  return sendJson(ex, 200, body, {
    'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
    pragma: 'no-cache',
  });
}

async function exchangeCode(
  core: SandboxCore,
  ex: Exchange,
  form: URLSearchParams,
  clientId: string,
): Promise<void> {
  const codeText = form.get('code');
  if (!codeText) throw new OAuthError(400, 'invalid_request', 'Missing required parameter: code');
  const code = core.state.codes.get(codeText);
  if (!code || code.clientId !== clientId) throw new OAuthError(400, 'invalid_grant', 'Malformed auth code.');
  if (code.used) throw new OAuthError(400, 'invalid_grant', 'Bad Request');
  if (Date.now() - code.issuedAt > CODE_LIFETIME_MS)
    throw new OAuthError(400, 'invalid_grant', 'Bad Request');
  const redirectUri = form.get('redirect_uri');
  if (!redirectUri) throw new OAuthError(400, 'invalid_request', 'Missing parameter: redirect_uri');
  // The exchange names the same URI as the authorization request, and a registered one.
  const client = core.config.clients.get(clientId);
  if (redirectUri !== code.redirectUri || !client || !redirectAllowed(client, redirectUri)) {
    throw new OAuthError(400, 'redirect_uri_mismatch', 'Bad Request');
  }
  const verifier = form.get('code_verifier');
  if (code.challenge !== undefined) {
    if (!verifier) throw new OAuthError(400, 'invalid_grant', 'Missing code verifier.');
    const computed = createHash('sha256').update(verifier).digest('base64url');
    if (computed !== code.challenge) throw new OAuthError(400, 'invalid_grant', 'Invalid code verifier.');
  } else if (verifier) {
    throw new OAuthError(400, 'invalid_grant', 'code_verifier or verifier is not needed.');
  }
  // Single use: a code is spent even when this exchange is the one that fails later.
  code.used = true;
  const refreshGrant = code.giveRefreshToken
    ? core.state.issueRefreshToken(clientId, code.scopes, code.email)
    : undefined;
  const access = core.state.issueAccessToken({
    clientId,
    scopes: code.scopes,
    email: code.email,
    ...(refreshGrant ? { refreshToken: refreshGrant.token } : {}),
  });
  await tokenAnswer(core, ex, access, refreshGrant?.token);
}

async function refresh(
  core: SandboxCore,
  ex: Exchange,
  form: URLSearchParams,
  clientId: string,
): Promise<void> {
  const tokenText = form.get('refresh_token');
  if (!tokenText) throw new OAuthError(400, 'invalid_request', 'Missing required parameter: refresh_token');
  const grant = core.state.refreshTokens.get(tokenText);
  if (!grant || grant.revoked)
    throw new OAuthError(400, 'invalid_grant', 'Token has been expired or revoked.');
  if (grant.clientId !== clientId) throw new OAuthError(400, 'unauthorized_client', 'Unauthorized');
  let scopes = grant.scopes;
  const asked = form.get('scope');
  if (asked) {
    const wanted = asked.trim().split(/\s+/);
    if (!wanted.every((s) => grant.scopes.includes(s))) {
      throw new OAuthError(400, 'invalid_scope', 'Some requested scopes were not granted.');
    }
    scopes = wanted;
  }
  const access = core.state.issueAccessToken({
    clientId,
    scopes,
    email: grant.email,
    refreshToken: grant.token,
  });
  await tokenAnswer(core, ex, access);
}

export async function revoke(core: SandboxCore, ex: Exchange): Promise<void> {
  const form = await readForm(ex);
  const tokenText = form.get('token') ?? ex.url.searchParams.get('token');
  if (!tokenText) throw new OAuthError(400, 'invalid_request', 'Missing required parameter: token');
  const refreshGrant = core.state.refreshTokens.get(tokenText);
  const accessGrant = core.state.accessTokens.get(tokenText);
  // Revoking any token of a grant ends the grant: Google's docs say revoking an access token
  // revokes its refresh token too (developers.google.com/identity/protocols/oauth2/web-server,
  // "Revoking a token"), RFC 7009 §2.1 lets a server end "other tokens based on the same
  // authorization grant", and Google does so for every token of that account and client
  // (shared/reference/google-drive-facts.md; public reports, not verifiable without Google).
  if (refreshGrant && !refreshGrant.revoked) {
    core.state.revokeGrant(refreshGrant.email, refreshGrant.clientId);
  } else if (accessGrant && !accessGrant.revoked && accessGrant.expiresAt > Date.now()) {
    core.state.revokeGrant(accessGrant.email, accessGrant.clientId);
  } else {
    throw new OAuthError(400, 'invalid_token', 'Token expired or revoked');
  }
  await sendJson(ex, 200, {});
}
