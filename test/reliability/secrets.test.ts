// Secrets: a whole run of the service at trace level (connect, a backup and restore under
// faults, token refreshes, refused requests, a revoked grant) and of `gdrive-backup demo`; then
// the data dir, every log line and every error body are searched for the refresh token, the
// access tokens, the OAuth client secret and the API token, plain and base64. Modes: the data
// dir 0700, its files 0600.
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { runCli } from '../cli/run-cli.js';
import { bytesOf } from '../connector/data-path-fixture.js';
import { answerConsent } from '../helpers/test-env.js';
import { type RawAnswer, raw } from '../service/harness.js';
import { Tally } from './figures.js';
import { CHUNK, connect, OBJECT, ServeProcess, serviceFlags, type Workspace, workspace } from './service.js';

const CLIENT_SECRET = 'reliability-client-secret-7f3a9c1e5b';
const BASE = '/v1/objects/subscription:10';
/** Every token the sandbox issues starts so (sandbox-state.ts): also catches tokens we never saw. */
const TOKEN_PREFIXES = ['ya29.sandbox-', '1//sandbox-'];

const tally = new Tally('secrets');
let sandbox: Sandbox;
let space: Workspace;
let serve: ServeProcess;
let proxy: Server;
/** Tokens the token endpoint handed out, recorded on the way (the service never shows them). */
const issued = new Set<string>();
const errorBodies: string[] = [];
let demoOutput = '';

/** The secret, and its base64 and base64url forms at each of the three byte alignments. */
function encodings(secret: string): string[] {
  const forms = new Set<string>([secret]);
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.from(`${'\0'.repeat(shift)}${secret}`).toString('base64');
    // Only characters made of the secret's bits alone, without the padding at the end.
    const core = encoded.slice(Math.ceil((shift * 4) / 3), -4);
    if (core.length >= 12) {
      forms.add(core);
      forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...forms];
}

function findSecrets(text: string, secrets: string[]): string[] {
  const found: string[] = [];
  for (const secret of secrets)
    for (const form of encodings(secret)) if (text.includes(form)) found.push(form);
  return found;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const info = await lstat(path);
    if (info.isDirectory()) out.push(...(await filesUnder(path)));
    else if (info.isFile()) out.push(path);
  }
  return out;
}

async function call(method: string, path: string, body?: unknown, token?: string): Promise<RawAnswer> {
  const answer = await raw(serve.socket, method, path, {
    token: token ?? (await serve.token()),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (answer.status >= 400) errorBodies.push(answer.text);
  return answer;
}

beforeAll(async () => {
  sandbox = await startSandbox({ clientSecret: CLIENT_SECRET, accessTokenLifetimeSec: 3600 });
  space = await workspace('secrets');
  // The token endpoint, through a recorder: the refresh and access tokens the service received.
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      fetch(sandbox.env.GDRIVE_OAUTH_TOKEN_URL, {
        method: 'POST',
        headers: { 'content-type': String(req.headers['content-type'] ?? '') },
        body: Buffer.concat(chunks),
      }).then(
        async (answer) => {
          const text = await answer.text();
          try {
            const tokens = JSON.parse(text) as { access_token?: string; refresh_token?: string };
            if (tokens.access_token) issued.add(tokens.access_token);
            if (tokens.refresh_token) issued.add(tokens.refresh_token);
          } catch {
            // an error answer: nothing issued
          }
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? '' });
          res.end(text);
        },
        () => res.destroy(),
      );
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const tokenUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/token`;
  serve = await ServeProcess.start(
    { ...sandbox, env: { ...sandbox.env, GDRIVE_OAUTH_TOKEN_URL: tokenUrl } },
    space.dataDir('secrets'),
    { ...serviceFlags(space.exchange), logLevel: 'trace' },
  );
  const client = await serve.client();
  const apiToken = await serve.token();
  try {
    await connect(client);
    await client.createDir(OBJECT, '/secret-run');
    const bytes = bytesOf(3 * CHUNK + 5, 31);
    await writeFile(join(space.exchange, 'piece'), bytes);
    // A backup and restore under faults and token expiry.
    sandbox.setFaults('files.list:503@1;upload.chunk:reset@2;upload.chunk:503@3;files.download:500@1');
    sandbox.expireAccessTokens();
    const fd = await client.openWrite(OBJECT, '/secret-run/backup.tar');
    await client.append(fd, join(space.exchange, 'piece'));
    sandbox.expireAccessTokens();
    await client.closeWrite(fd);
    const rfd = await client.openRead(OBJECT, '/secret-run/backup.tar', 0);
    await client.read(rfd, join(space.exchange, 'restored'), null);
    await client.closeRead(rfd);
    sandbox.setFaults('');
    // Refused requests, of the kinds that might echo what they were sent.
    await call('GET', `/v1/health?token=${apiToken}`, undefined, 'wrong');
    await call('GET', `${BASE}/list?path=/secret-run&token=${apiToken}&access_token=${[...issued][0]}`);
    await call('GET', `${BASE}/stat?path=${encodeURIComponent('/a/../../b')}`);
    await call('POST', '/v1/writes/w-nope/append', { localFile: '/etc/passwd' });
    await call('POST', `${BASE}/dirs`, undefined);
    const { url } = await client.oauthStart(OBJECT, { redirectUri: 'http://127.0.0.1:9/callback' });
    const answer = await answerConsent(url);
    await call('POST', `${BASE}/oauth/finish`, {
      state: 'forged',
      code: 'code' in answer ? answer.code : 'x',
    });
    await call('POST', `${BASE}/oauth/finish`, {
      state: answer.state,
      code: `${'code' in answer ? answer.code : 'x'}x`,
    });
    // A revoked grant at the end: the refresh fails, the sentence asks to reconnect.
    sandbox.revokeAll();
    sandbox.expireAccessTokens();
    await call('GET', `${BASE}/list?path=/`);
  } finally {
    await client.close();
    await serve.stop();
  }
  // The whole demo, as `npm start` runs it.
  const demo = await runCli(['demo', '--size-mib', '4'], {
    PATH: process.env.PATH,
    HOME: space.root,
    TMPDIR: space.root,
  });
  demoOutput = `${demo.stdout}\n${demo.stderr}`;
  if (demo.code !== 0) throw new Error(`the demo failed: ${demoOutput}`);
}, 120_000);

afterAll(async () => {
  await tally.write();
  await new Promise((resolve) => proxy?.close(resolve));
  await sandbox?.close();
  await space?.remove();
});

describe('secrets', () => {
  it('the run did hand out tokens and answer errors (so the scans below search for something)', () => {
    expect(issued.size).toBeGreaterThanOrEqual(3);
    expect(errorBodies.length).toBeGreaterThanOrEqual(6);
    expect(serve.logText().split('\n').length).toBeGreaterThan(20);
  });

  it('no refresh token, access token, client secret or API token in the data dir (plain or base64)', async () => {
    const apiToken = await serve.token();
    const secrets = [...issued, CLIENT_SECRET, ...TOKEN_PREFIXES];
    for (const file of await filesUnder(serve.dataDir)) {
      const text = (await readFile(file)).toString('latin1');
      tally.add('filesScanned');
      const found = findSecrets(text, file.endsWith('api-token') ? secrets : [...secrets, apiToken]);
      tally.add('secretsFound', found.length);
      expect(found, file).toEqual([]);
    }
  });

  it('no secret in any log line of the service at trace level, the API token in a query string included', async () => {
    const apiToken = await serve.token();
    const lines = serve.logText().split('\n');
    tally.add('logLines', lines.length);
    const found = findSecrets(serve.logText(), [...issued, CLIENT_SECRET, apiToken, ...TOKEN_PREFIXES]);
    tally.add('secretsFound', found.length);
    expect(found).toEqual([]);
  });

  it('the log names the error code of a refused request (codes are not redacted as secrets)', () => {
    const log = serve.logText();
    // Under whatever field name: today's log has only "[redacted]" where the code belongs.
    expect(log.includes('invalid_path'), 'the log names invalid_path').toBe(true);
    expect(/unknown_handle|local_file_forbidden/.test(log), 'the log names the handle error').toBe(true);
  });

  it('no secret in any error body', async () => {
    const apiToken = await serve.token();
    tally.add('errorBodies', errorBodies.length);
    const found = findSecrets(errorBodies.join('\n'), [
      ...issued,
      CLIENT_SECRET,
      apiToken,
      ...TOKEN_PREFIXES,
    ]);
    tally.add('secretsFound', found.length);
    expect(found).toEqual([]);
    expect(errorBodies.join('\n')).toMatch(/reconnect Google Drive/);
  });

  it("no token or client secret in the demo's output", () => {
    const lines = demoOutput.split('\n');
    tally.add('logLines', lines.length);
    // The demo's own sandbox uses the default client secret.
    const found = findSecrets(demoOutput, ['sandbox-secret', ...TOKEN_PREFIXES]);
    tally.add('secretsFound', found.length);
    expect(found).toEqual([]);
    expect(demoOutput).toMatch(/sha256 verified/);
  });

  it('keeps the data dir 0700 and every file in it 0600, no directory in it open to others', async () => {
    expect((await lstat(serve.dataDir)).mode & 0o777).toBe(0o700);
    const check = async (dir: string): Promise<void> => {
      for (const name of await readdir(dir)) {
        const path = join(dir, name);
        const info = await lstat(path);
        if (info.isDirectory()) {
          expect(info.mode & 0o022, `${path} is writable by others`).toBe(0);
          await check(path);
        } else {
          expect((info.mode & 0o777).toString(8), path).toBe('600');
        }
      }
    };
    await check(serve.dataDir);
  });
});
