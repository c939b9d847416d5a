// OAuth2: the code flow with PKCE and its failure modes, refresh, revoke, expiry, Bearer checks.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { accessToken, bearer, SCOPE_FILE, tokenRequest } from './helpers.js';

const REDIRECT = 'http://127.0.0.1:9/callback';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function authorizeUrl(sb: Sandbox, params: Record<string, string>): Promise<Response> {
  const url = new URL(sb.env.GDRIVE_OAUTH_AUTH_URL);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return fetch(url, { redirect: 'manual' });
}

function goodParams(challenge: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    client_id: 'sandbox-client.apps.googleusercontent.com',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: SCOPE_FILE,
    state: 'st-123',
    access_type: 'offline',
    prompt: 'consent',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

async function getCode(sb: Sandbox, challenge: string, extra: Record<string, string> = {}): Promise<string> {
  const res = await authorizeUrl(sb, goodParams(challenge, extra));
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get('location')!);
  expect(back.origin + back.pathname).toBe(REDIRECT);
  expect(back.searchParams.get('state')).toBe('st-123');
  expect(back.searchParams.get('scope')).toBe(SCOPE_FILE);
  return back.searchParams.get('code')!;
}

function codeForm(
  code: string,
  verifier: string | null,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    client_id: 'sandbox-client.apps.googleusercontent.com',
    client_secret: 'sandbox-secret',
    ...(verifier ? { code_verifier: verifier } : {}),
    ...extra,
  };
}

describe('OAuth2 endpoints', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox();
  });
  afterAll(() => sb.close());
  beforeEach(() => sb.setConsent('approve'));

  it('code flow with the right PKCE verifier gives access + refresh token, and the access token works', async () => {
    const { verifier, challenge } = pkce();
    const code = await getCode(sb, challenge);
    const { status, body } = await tokenRequest(sb, codeForm(code, verifier));
    expect(status).toBe(200);
    expect(body).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      expires_in: 3600,
      refresh_token: expect.any(String),
      scope: SCOPE_FILE,
      token_type: 'Bearer',
    });
    const about = await fetch(`${sb.url}drive/v3/about?fields=user(emailAddress)`, {
      headers: bearer(body.access_token as string),
    });
    expect(about.status).toBe(200);
    expect(await about.json()).toEqual({ user: { emailAddress: 'admin@example.com' } });
  });

  it('refuses a wrong verifier and a missing verifier with invalid_grant', async () => {
    const { challenge } = pkce();
    const code = await getCode(sb, challenge);
    const wrong = await tokenRequest(sb, codeForm(code, pkce().verifier));
    expect(wrong).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: expect.any(String) },
    });
    const code2 = await getCode(sb, challenge);
    const missing = await tokenRequest(sb, codeForm(code2, null));
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_grant');
  });

  it('a code is single use', async () => {
    const { verifier, challenge } = pkce();
    const code = await getCode(sb, challenge);
    expect((await tokenRequest(sb, codeForm(code, verifier))).status).toBe(200);
    const again = await tokenRequest(sb, codeForm(code, verifier));
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('refuses a redirect_uri that differs from the authorize one', async () => {
    const { verifier, challenge } = pkce();
    const code = await getCode(sb, challenge);
    const res = await tokenRequest(
      sb,
      codeForm(code, verifier, { redirect_uri: 'http://127.0.0.1:9/other' }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('redirect_uri_mismatch');
  });

  it('refuses a wrong client secret with 401 invalid_client, in the body or in HTTP Basic', async () => {
    const { verifier, challenge } = pkce();
    const code = await getCode(sb, challenge);
    const res = await tokenRequest(sb, codeForm(code, verifier, { client_secret: 'nope' }));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    const form = codeForm(code, verifier);
    delete form.client_id;
    delete form.client_secret;
    const basicBad = Buffer.from('sandbox-client.apps.googleusercontent.com:nope').toString('base64');
    expect((await tokenRequest(sb, form, { authorization: `Basic ${basicBad}` })).status).toBe(401);
    // The failed attempts did not spend the code: HTTP Basic with the right secret works.
    const basic = Buffer.from('sandbox-client.apps.googleusercontent.com:sandbox-secret').toString('base64');
    expect((await tokenRequest(sb, form, { authorization: `Basic ${basic}` })).status).toBe(200);
  });

  it('gives a refresh token only with access_type=offline', async () => {
    const { verifier, challenge } = pkce();
    const code = await getCode(sb, challenge, { access_type: 'online' });
    const { status, body } = await tokenRequest(sb, codeForm(code, verifier));
    expect(status).toBe(200);
    expect(body.refresh_token).toBeUndefined();
  });

  it('without prompt=consent, a repeated consent gives no new refresh token (as Google)', async () => {
    const fresh = await startSandbox();
    try {
      const first = pkce();
      const code1 = await getCode(fresh, first.challenge, { prompt: 'select_account' });
      expect((await tokenRequest(fresh, codeForm(code1, first.verifier))).body.refresh_token).toEqual(
        expect.any(String),
      );
      const second = pkce();
      const code2 = await getCode(fresh, second.challenge, { prompt: 'select_account' });
      const again = await tokenRequest(fresh, codeForm(code2, second.verifier));
      expect(again.status).toBe(200);
      expect(again.body.refresh_token).toBeUndefined();
      const third = pkce();
      const code3 = await getCode(fresh, third.challenge);
      expect((await tokenRequest(fresh, codeForm(code3, third.verifier))).body.refresh_token).toEqual(
        expect.any(String),
      );
    } finally {
      await fresh.close();
    }
  });

  describe('with a moved clock', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('a code older than 10 minutes is invalid_grant', async () => {
      const { verifier, challenge } = pkce();
      vi.useFakeTimers({ toFake: ['Date'] });
      const code = await getCode(sb, challenge);
      vi.setSystemTime(Date.now() + 11 * 60 * 1000);
      const res = await tokenRequest(sb, codeForm(code, verifier));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    });

    it('a code 9 minutes old still works', async () => {
      const { verifier, challenge } = pkce();
      vi.useFakeTimers({ toFake: ['Date'] });
      const code = await getCode(sb, challenge);
      vi.setSystemTime(Date.now() + 9 * 60 * 1000);
      expect((await tokenRequest(sb, codeForm(code, verifier))).status).toBe(200);
    });
  });

  it('deny mode redirects with error=access_denied and the state', async () => {
    sb.setConsent('deny');
    const res = await authorizeUrl(sb, goodParams(pkce().challenge));
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(Object.fromEntries(back.searchParams)).toEqual({ error: 'access_denied', state: 'st-123' });
  });

  it('answers 400 without redirecting for an unknown client, missing params or a plain PKCE method', async () => {
    const { challenge } = pkce();
    const cases: Array<Record<string, string>> = [
      { client_id: 'someone-else' },
      { redirect_uri: '' },
      { response_type: 'token' },
      { scope: '' },
      { state: '' },
      { code_challenge_method: 'plain' },
      { scope: 'https://www.googleapis.com/auth/nonsense' },
    ];
    for (const broken of cases) {
      const params = goodParams(challenge, broken);
      for (const [k, v] of Object.entries(params)) if (v === '') delete params[k];
      const res = await authorizeUrl(sb, params);
      expect(res.status, JSON.stringify(broken)).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it('token endpoint errors: unsupported_grant_type, invalid_request, form encoding required', async () => {
    const base = { client_id: 'sandbox-client.apps.googleusercontent.com', client_secret: 'sandbox-secret' };
    expect((await tokenRequest(sb, { ...base, grant_type: 'password' })).body.error).toBe(
      'unsupported_grant_type',
    );
    expect((await tokenRequest(sb, { ...base })).body.error).toBe('invalid_request');
    expect((await tokenRequest(sb, { ...base, grant_type: 'authorization_code' })).body.error).toBe(
      'invalid_request',
    );
    const json = await fetch(sb.env.GDRIVE_OAUTH_TOKEN_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...base, grant_type: 'refresh_token', refresh_token: 'x' }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('refresh gives a new access token and no new refresh token', async () => {
    const refresh = sb.issueRefreshToken();
    const { status, body } = await accessToken(sb, refresh);
    expect(status).toBe(200);
    expect(body).toEqual({
      access_token: expect.any(String),
      expires_in: 3600,
      scope: SCOPE_FILE,
      token_type: 'Bearer',
    });
  });

  it('revoking a refresh token kills it and its access tokens; refresh then answers invalid_grant', async () => {
    const refresh = sb.issueRefreshToken();
    const access = (await accessToken(sb, refresh)).body.access_token as string;
    const rev = await fetch(sb.env.GDRIVE_OAUTH_REVOKE_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refresh }),
    });
    expect(rev.status).toBe(200);
    expect(await rev.json()).toEqual({});
    const again = await accessToken(sb, refresh);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    const about = await fetch(`${sb.url}drive/v3/about?fields=user`, { headers: bearer(access) });
    expect(about.status).toBe(401);
    // Unknown (or already revoked) token.
    const unknown = await fetch(`${sb.env.GDRIVE_OAUTH_REVOKE_URL}?token=${encodeURIComponent(refresh)}`, {
      method: 'POST',
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ error: 'invalid_token', error_description: expect.any(String) });
  });

  it('revoking an access token (token in the query) ends its refresh token too', async () => {
    const refresh = sb.issueRefreshToken();
    const access = (await accessToken(sb, refresh)).body.access_token as string;
    const rev = await fetch(`${sb.env.GDRIVE_OAUTH_REVOKE_URL}?token=${encodeURIComponent(access)}`, {
      method: 'POST',
    });
    expect(rev.status).toBe(200);
    expect((await accessToken(sb, refresh)).body.error).toBe('invalid_grant');
  });

  it('Bearer: missing, unknown, expired and revoked tokens answer 401 in Google shape', async () => {
    const refresh = sb.issueRefreshToken();
    const access = (await accessToken(sb, refresh)).body.access_token as string;
    const call = (headers: Record<string, string>): Promise<Response> =>
      fetch(`${sb.url}drive/v3/about?fields=user`, { headers });
    expect((await call(bearer(access))).status).toBe(200);
    const missing = await call({});
    expect(missing.status).toBe(401);
    const body = (await missing.json()) as {
      error: { code: number; status: string; errors: Array<{ reason: string }> };
    };
    expect(body.error.code).toBe(401);
    expect(body.error.status).toBe('UNAUTHENTICATED');
    expect(body.error.errors[0]!.reason).toBe('authError');
    expect((await call(bearer('ya29.made-up'))).status).toBe(401);
    sb.expireAccessTokens();
    expect((await call(bearer(access))).status).toBe(401);
    const fresh = (await accessToken(sb, refresh)).body.access_token as string;
    expect((await call(bearer(fresh))).status).toBe(200);
    sb.revokeAll();
    expect((await call(bearer(fresh))).status).toBe(401);
    expect((await accessToken(sb, refresh)).body.error).toBe('invalid_grant');
  });

  it('access tokens expire after accessTokenLifetimeSec', async () => {
    const short = await startSandbox({ accessTokenLifetimeSec: 1 });
    try {
      const access = await accessToken(short, short.issueRefreshToken());
      expect(access.body.expires_in).toBe(1);
      const token = access.body.access_token as string;
      expect((await fetch(`${short.url}drive/v3/about?fields=user`, { headers: bearer(token) })).status).toBe(
        200,
      );
      await new Promise((r) => setTimeout(r, 1100));
      expect((await fetch(`${short.url}drive/v3/about?fields=user`, { headers: bearer(token) })).status).toBe(
        401,
      );
    } finally {
      await short.close();
    }
  });
});

async function revokeToken(sb: Sandbox, token: string): Promise<number> {
  const res = await fetch(sb.env.GDRIVE_OAUTH_REVOKE_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function aboutStatus(sb: Sandbox, access: string): Promise<number> {
  const res = await fetch(`${sb.url}drive/v3/about?fields=user`, { headers: bearer(access) });
  await res.arrayBuffer();
  return res.status;
}

describe('grants: one per Google account and client', () => {
  let sb: Sandbox;
  beforeEach(async () => {
    sb = await startSandbox({ otherClients: { 'other-app': 'other-secret' } });
  });
  afterEach(() => sb.close());

  it('revoking one refresh token ends every token of that account and client, and nothing else', async () => {
    const first = sb.issueRefreshToken();
    const second = sb.issueRefreshToken();
    const secondAccess = (await accessToken(sb, second)).body.access_token as string;
    const otherUser = sb.issueRefreshToken({ email: 'someone@example.com' });
    const otherApp = sb.issueRefreshToken({ clientId: 'other-app' });
    expect(await revokeToken(sb, first)).toBe(200);
    expect((await accessToken(sb, first)).body.error).toBe('invalid_grant');
    expect((await accessToken(sb, second)).body.error).toBe('invalid_grant');
    expect(await aboutStatus(sb, secondAccess)).toBe(401);
    expect((await accessToken(sb, otherUser)).status).toBe(200);
    const otherAppAnswer = await tokenRequest(sb, {
      grant_type: 'refresh_token',
      refresh_token: otherApp,
      client_id: 'other-app',
      client_secret: 'other-secret',
    });
    expect(otherAppAnswer.status).toBe(200);
  });

  it('revoking an access token ends the refresh tokens of the whole grant too', async () => {
    const first = sb.issueRefreshToken();
    const second = sb.issueRefreshToken();
    const access = (await accessToken(sb, first)).body.access_token as string;
    expect(await revokeToken(sb, access)).toBe(200);
    expect((await accessToken(sb, second)).body.error).toBe('invalid_grant');
  });

  it('after a revocation the next consent is a first consent again and its tokens work', async () => {
    const { verifier, challenge } = pkce();
    const code = await getCode(sb, challenge, { prompt: 'select_account' });
    const first = await tokenRequest(sb, codeForm(code, verifier));
    expect(await revokeToken(sb, first.body.refresh_token as string)).toBe(200);
    const again = pkce();
    const code2 = await getCode(sb, again.challenge, { prompt: 'select_account' });
    const second = await tokenRequest(sb, codeForm(code2, again.verifier));
    expect(second.body.refresh_token).toEqual(expect.any(String));
    expect((await accessToken(sb, second.body.refresh_token as string)).status).toBe(200);
  });

  it('keeps at most 100 live refresh tokens per account and client: the 101st ends the oldest', async () => {
    const tokens = Array.from({ length: 101 }, () => sb.issueRefreshToken());
    const other = sb.issueRefreshToken({ email: 'someone@example.com' });
    expect((await accessToken(sb, tokens[0]!)).body.error).toBe('invalid_grant');
    expect((await accessToken(sb, tokens[1]!)).status).toBe(200);
    expect((await accessToken(sb, tokens[100]!)).status).toBe(200);
    expect((await accessToken(sb, other)).status).toBe(200);
    sb.issueRefreshToken();
    expect((await accessToken(sb, tokens[1]!)).body.error).toBe('invalid_grant');
    expect((await accessToken(sb, tokens[2]!)).status).toBe(200);
  });
});

describe('registered redirect URIs', () => {
  const WEB_URI = 'http://127.0.0.1:52180/oauth2callback';
  let sb: Sandbox;
  afterEach(() => sb.close());

  it('a Web application client accepts only its registered URIs, exactly', async () => {
    sb = await startSandbox({ clientType: 'web', redirectUris: [WEB_URI, 'https://panel.example.com/cb'] });
    const { challenge } = pkce();
    for (const uri of [WEB_URI, 'https://panel.example.com/cb']) {
      const ok = await authorizeUrl(sb, goodParams(challenge, { redirect_uri: uri }));
      expect(ok.status).toBe(302);
      expect(ok.headers.get('location')).toMatch(new RegExp(`^${uri.replace(/[.?/]/g, '\\$&')}\\?`));
    }
    for (const uri of [
      'http://127.0.0.1:52181/oauth2callback', // another port
      'http://localhost:52180/oauth2callback', // another host
      'http://127.0.0.1:52180/oauth2callback/', // trailing slash
      'http://127.0.0.1:52180/OAuth2callback', // case of the path
      'https://127.0.0.1:52180/oauth2callback', // scheme
      'http://panel.example.com/cb',
      REDIRECT,
    ]) {
      const refused = await authorizeUrl(sb, goodParams(challenge, { redirect_uri: uri }));
      expect(refused.status, uri).toBe(400);
      expect(refused.headers.get('location')).toBeNull();
      expect(await refused.text()).toContain('Error 400: redirect_uri_mismatch');
    }
  });

  it('a Desktop app client accepts a loopback address on any port and nothing else', async () => {
    sb = await startSandbox({ clientType: 'desktop' });
    const { challenge } = pkce();
    for (const uri of [
      'http://127.0.0.1:1/',
      'http://127.0.0.1:65000/oauth2callback',
      'http://[::1]:4242/cb',
      'http://localhost:8080/x',
      'http://127.0.0.1/',
    ]) {
      expect((await authorizeUrl(sb, goodParams(challenge, { redirect_uri: uri }))).status, uri).toBe(302);
    }
    for (const uri of [
      'https://127.0.0.1:8080/',
      'http://example.com:8080/',
      'https://panel.example.com/cb',
    ]) {
      const refused = await authorizeUrl(sb, goodParams(challenge, { redirect_uri: uri }));
      expect(refused.status, uri).toBe(400);
      expect(await refused.text()).toContain('redirect_uri_mismatch');
    }
  });

  it('the code exchange refuses an unregistered redirect_uri as well', async () => {
    sb = await startSandbox({ redirectUris: [WEB_URI] });
    const { verifier, challenge } = pkce();
    const res = await authorizeUrl(sb, goodParams(challenge, { redirect_uri: WEB_URI }));
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const wrong = await tokenRequest(sb, codeForm(code, verifier, { redirect_uri: REDIRECT }));
    expect(wrong).toEqual({
      status: 400,
      body: { error: 'redirect_uri_mismatch', error_description: 'Bad Request' },
    });
  });

  it('refuses to register what the console refuses', async () => {
    await expect(startSandbox({ redirectUris: ['http://panel.example.com/cb'] })).rejects.toThrow(/https/);
    await expect(startSandbox({ redirectUris: ['https://10.0.0.1/cb'] })).rejects.toThrow(/raw IP/);
    await expect(startSandbox({ redirectUris: ['https://e.example/cb#x'] })).rejects.toThrow(/fragment/);
    await expect(startSandbox({ clientType: 'desktop', redirectUris: [WEB_URI] })).rejects.toThrow(/Desktop/);
    sb = await startSandbox();
  });
});
