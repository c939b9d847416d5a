/**
 * Tokens straight from a sandbox's OAuth code flow (its consent page answers at once), for the
 * clients of the benchmark that are not the connector: rclone needs a refresh token to start
 * from, as an admin's `rclone config` would have left it.
 */
import type { SandboxEnv } from './child-processes.js';

export async function sandboxTokens(
  env: SandboxEnv,
  scope = 'https://www.googleapis.com/auth/drive.file',
): Promise<{ accessToken: string; refreshToken: string }> {
  const redirectUri = 'http://127.0.0.1:9/callback';
  const consent = new URL(env.GDRIVE_OAUTH_AUTH_URL!);
  consent.search = new URLSearchParams({
    client_id: env.GDRIVE_CLIENT_ID!,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope,
    access_type: 'offline',
    prompt: 'consent',
    state: 'bench',
  }).toString();
  const answer = await fetch(consent, { redirect: 'manual' });
  await answer.arrayBuffer();
  const code = new URL(answer.headers.get('location') ?? 'http://invalid/').searchParams.get('code');
  if (!code) throw new Error(`the sandbox's consent page answered ${answer.status} without a code`);
  const tokenAnswer = await fetch(env.GDRIVE_OAUTH_TOKEN_URL!, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: env.GDRIVE_CLIENT_ID!,
      client_secret: env.GDRIVE_CLIENT_SECRET!,
    }),
  });
  const body = (await tokenAnswer.json()) as { access_token?: string; refresh_token?: string };
  if (!tokenAnswer.ok || !body.access_token || !body.refresh_token)
    throw new Error(`the sandbox's token endpoint answered ${tokenAnswer.status} without both tokens`);
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}
