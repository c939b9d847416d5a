// The libraries the connector is built on (google-auth-library's OAuth2Client, @googleapis/drive)
// talk to the sandbox unchanged once their endpoints point at it: proof that the sandbox speaks
// the same wire protocol they expect from Google.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { drive as driveApi } from '@googleapis/drive';
import { CodeChallengeMethod, OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';

const REDIRECT = 'http://127.0.0.1:9/cb';

describe('google-auth-library + @googleapis/drive against the sandbox', () => {
  let sb: Sandbox;
  let client: OAuth2Client;
  beforeAll(async () => {
    sb = await startSandbox();
    client = new OAuth2Client({
      clientId: sb.env.GDRIVE_CLIENT_ID,
      clientSecret: sb.env.GDRIVE_CLIENT_SECRET,
      redirectUri: REDIRECT,
      // Without it the client trusts its own expiry_date and never refreshes on a 401.
      forceRefreshOnFailure: true,
      endpoints: {
        oauth2AuthBaseUrl: sb.env.GDRIVE_OAUTH_AUTH_URL,
        oauth2TokenUrl: sb.env.GDRIVE_OAUTH_TOKEN_URL,
        oauth2RevokeUrl: sb.env.GDRIVE_OAUTH_REVOKE_URL,
      },
    });
  });
  afterAll(() => sb.close());

  it('code flow with PKCE, Drive calls, automatic refresh after expiry, revoke', async () => {
    const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
    const url = client.generateAuthUrl({
      access_type: 'offline',
      prompt: 'consent',
      scope: ['https://www.googleapis.com/auth/drive.file'],
      state: 'xyz',
      code_challenge: codeChallenge!,
      code_challenge_method: CodeChallengeMethod.S256,
    });
    const consent = await fetch(url, { redirect: 'manual' });
    expect(consent.status).toBe(302);
    const code = new URL(consent.headers.get('location')!).searchParams.get('code')!;
    const { tokens } = await client.getToken({ code, codeVerifier: codeVerifier! });
    expect(tokens.refresh_token).toBeTruthy();
    client.setCredentials(tokens);

    // googleapis-common carries its own copy of google-auth-library: same class, distinct type.
    const drive = driveApi({ version: 'v3', auth: client as never, rootUrl: sb.url });
    const about = await drive.about.get({ fields: 'user(emailAddress),storageQuota' });
    expect(about.data.user?.emailAddress).toBe('admin@example.com');
    const folder = await drive.files.create({
      requestBody: { name: "it's", mimeType: 'application/vnd.google-apps.folder' },
      fields: 'id',
    });
    const media = Buffer.from('content through googleapis multipart');
    // googleapis builds the media URL from the per-call rootUrl only (the global one is ignored there).
    const file = await drive.files.create(
      {
        requestBody: { name: 'a.txt', parents: [folder.data.id!] },
        media: { mimeType: 'text/plain', body: Readable.from([media]) },
        fields: 'id,size,md5Checksum',
      },
      { rootUrl: sb.url },
    );
    expect(file.data).toEqual({
      id: expect.any(String),
      size: String(media.length),
      md5Checksum: createHash('md5').update(media).digest('hex'),
    });
    const list = await drive.files.list({
      q: `name = 'it\\'s' and trashed = false`,
      fields: 'files(id,name),nextPageToken',
      pageSize: 10,
    });
    expect(list.data.files).toEqual([{ id: folder.data.id, name: "it's" }]);

    // Expired access token: the client refreshes by itself and retries.
    sb.expireAccessTokens();
    const before = sb.counters()['oauth.token'];
    const got = await drive.files.get(
      { fileId: file.data.id!, alt: 'media' },
      { responseType: 'arraybuffer' },
    );
    expect(Buffer.from(got.data as unknown as ArrayBuffer).equals(media)).toBe(true);
    expect(sb.counters()['oauth.token']).toBe(before + 1);

    await drive.files.delete({ fileId: folder.data.id! });
    expect(sb.items()).toEqual([]);

    await client.revokeCredentials();
    // Revoking the access token ended the grant: its refresh token is dead too.
    const later = new OAuth2Client({
      clientId: sb.env.GDRIVE_CLIENT_ID,
      clientSecret: sb.env.GDRIVE_CLIENT_SECRET,
      endpoints: { oauth2TokenUrl: sb.env.GDRIVE_OAUTH_TOKEN_URL },
    });
    later.setCredentials({ refresh_token: tokens.refresh_token! });
    await expect(later.getAccessToken()).rejects.toThrow(/invalid_grant/);
  });
});
