// The service on a real unix socket, with the real connector and the sandbox: every route of
// the design's HTTP API, the token, schema violations, exchange-dir confinement, error shapes.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../connector/config/config.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { type RunningService, startService } from '../../connector/service/serve-command.js';
import { buildService } from '../../connector/service/server.js';
import { ServiceClient } from '../../connector/service/service-client.js';
import type { Connector } from '../../connector/transport/types.js';
import { CONNECTOR_VERSION } from '../../connector/version.js';
import { connectObject, md5, raw, sha256, sha256File } from './harness.js';

const object: ObjectRef = { type: 'subscription', id: '7' };
const base = '/v1/objects/subscription:7';

let sandbox: Sandbox;
let root: string;
let service: RunningService;
let client: ServiceClient;
let socket: string;
let token: string;

function serviceConfig(dataDir: string, extra: Record<string, string> = {}) {
  return loadConfig({
    env: { ...sandbox.env },
    flags: { dataDir, retryBaseMs: '5', chunkSize: String(256 * 1024), logLevel: 'silent', ...extra },
    readFile: false,
  });
}

/** The running service's connector, except that transport() is `transport`. */
function withTransport(transport: () => unknown): Connector {
  return new Proxy(service.connector, {
    get(target, key, receiver) {
      if (key === 'transport') return transport;
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A log stream for buildService/startService and the lines written to it. */
function logCapture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

beforeAll(async () => {
  sandbox = await startSandbox({});
  root = await mkdtemp(join(tmpdir(), 'gdrive-service-test-'));
  const config = serviceConfig(join(root, 'data'));
  service = await startService(config, { log: false });
  socket = config.socketPath;
  token = service.apiToken;
  client = new ServiceClient({ socketPath: socket }, token);
  await connectObject(client, object, 'example.com');
});

afterAll(async () => {
  await client?.close();
  await service?.stop();
  await sandbox?.close();
  await rm(root, { recursive: true, force: true });
});

describe('token and socket', () => {
  it('answers health with the token, 401 unauthorized without or with a wrong one', async () => {
    expect(await raw(socket, 'GET', '/v1/health', { token })).toMatchObject({
      status: 200,
      body: { ok: true, version: CONNECTOR_VERSION },
    });
    for (const bad of [
      undefined,
      'wrong',
      `${token}0`,
      token.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')),
    ]) {
      const answer = await raw(socket, 'GET', '/v1/health', bad === undefined ? {} : { token: bad });
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({
        error: {
          code: 'unauthorized',
          message: expect.stringContaining('api-token'),
          retryable: false,
          params: {},
        },
      });
    }
    // Routes other than health too.
    expect((await raw(socket, 'GET', `${base}/account`)).status).toBe(401);
  });

  it('keeps socket and token private to the owner', async () => {
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
    const tokenFile = join(root, 'data', 'api-token');
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(tokenFile, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('account and OAuth routes', () => {
  it('shows the connected account and an unconnected object', async () => {
    const account = await raw(socket, 'GET', `${base}/account`, { token });
    expect(account.status).toBe(200);
    expect(account.body).toMatchObject({ connected: true, email: 'admin@example.com' });
    expect(await raw(socket, 'GET', '/v1/objects/customer:3/account', { token })).toMatchObject({
      status: 200,
      body: { connected: false },
    });
  });

  it('refuses a reused state and reports a denied consent', async () => {
    const { url } = await client.oauthStart(
      { type: 'customer', id: '3' },
      { redirectUri: 'http://127.0.0.1:9/cb' },
    );
    const state = new URL(url).searchParams.get('state') ?? '';
    const denied = await raw(socket, 'POST', '/v1/objects/customer:3/oauth/finish', {
      token,
      body: JSON.stringify({ state, error: 'access_denied' }),
    });
    expect(denied.status).toBe(400);
    expect(denied.body).toMatchObject({ error: { code: 'oauth_denied', retryable: false } });
    const reused = await raw(socket, 'POST', '/v1/objects/customer:3/oauth/finish', {
      token,
      body: JSON.stringify({ state, code: 'whatever' }),
    });
    expect(reused.body).toMatchObject({ error: { code: 'oauth_state_invalid' } });
    // Neither code nor error: the schema refuses it.
    const neither = await raw(socket, 'POST', '/v1/objects/customer:3/oauth/finish', {
      token,
      body: JSON.stringify({ state }),
    });
    expect(neither.status).toBe(400);
    expect(neither.body).toMatchObject({ error: { code: 'bad_request' } });
  });

  it("passes the object's own root folder given at oauth/start", async () => {
    const custom: ObjectRef = { type: 'customer', id: '8' };
    await connectObject(client, custom, 'jdoe', 'Custom Root/plesk');
    expect(
      (await raw(socket, 'POST', '/v1/objects/customer:8/dirs', { token, body: '{"path":"/x"}' })).status,
    ).toBe(201);
    expect(sandbox.tree()).toMatch(/Custom Root\/\n\s+`-- plesk\//);
    expect((await client.account(custom)).folder).toMatch(/Custom Root\/plesk/);
  });

  it('disconnects an object (204) and then reports it unconnected', async () => {
    const other: ObjectRef = { type: 'reseller', id: '4' };
    await connectObject(client, other);
    const gone = await raw(socket, 'DELETE', '/v1/objects/reseller:4/account', { token });
    expect(gone.status).toBe(204);
    expect(gone.text).toBe('');
    expect(await client.account(other)).toEqual({ connected: false });
    const refused = await raw(socket, 'GET', '/v1/objects/reseller:4/list?path=/', { token });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'not_connected' } });
  });
});

describe('file routes', () => {
  it('check and quota', async () => {
    expect(await raw(socket, 'POST', `${base}/check`, { token })).toMatchObject({
      status: 200,
      body: { errors: [], warnings: [] },
    });
    const quota = await raw(socket, 'GET', `${base}/quota`, { token });
    expect(quota.status).toBe(200);
    expect(quota.body).toMatchObject({ total: expect.any(Number), free: expect.any(Number) });
  });

  it('creates, stats, lists and deletes directories', async () => {
    const made = await raw(socket, 'POST', `${base}/dirs`, { token, body: JSON.stringify({ path: '/a/b' }) });
    expect(made.status).toBe(201);
    expect(
      await raw(socket, 'GET', `${base}/stat?path=${encodeURIComponent('/a/b')}`, { token }),
    ).toMatchObject({
      status: 200,
      body: { name: 'b', isDir: true },
    });
    expect((await raw(socket, 'GET', `${base}/list?path=/a`, { token })).body).toEqual([
      { name: 'b', size: 0, isDir: true },
    ]);
    expect((await raw(socket, 'DELETE', `${base}/dirs?path=/a`, { token })).status).toBe(204);
    const missing = await raw(socket, 'GET', `${base}/stat?path=/a`, { token });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: {
        code: 'not_found',
        message: expect.stringContaining('/a'),
        retryable: false,
        params: { path: '/a' },
      },
    });
    expect(await client.stat(object, '/a')).toBeNull();
  });

  it('writes a file in appends, verifies it, reads it back from an offset in pieces, deletes it', async () => {
    const data = randomBytes(700_001);
    const pieces = [data.subarray(0, 300_000), data.subarray(300_000, 300_001), data.subarray(300_001)];
    const exchange = await mkdtemp(join(tmpdir(), 'gdrive-service-exchange-'));
    try {
      await client.createDir(object, '/dumps');
      const opened = await raw(socket, 'POST', `${base}/writes`, {
        token,
        body: JSON.stringify({ path: '/dumps/backup.tar' }),
      });
      expect(opened.status).toBe(200);
      const fd = (opened.body as { fd: string }).fd;
      for (const [index, piece] of pieces.entries()) {
        const local = join(exchange, `piece-${index}`);
        await writeFile(local, piece);
        const appended = await raw(socket, 'POST', `/v1/writes/${fd}/append`, {
          token,
          body: JSON.stringify({ localFile: local }),
        });
        expect(appended).toMatchObject({ status: 200, body: { bytes: piece.length } });
      }
      const closed = await raw(socket, 'POST', `/v1/writes/${fd}/close`, { token });
      expect(closed).toMatchObject({
        status: 200,
        body: { size: data.length, md5: md5(data), sha256: sha256(data) },
      });
      const entry = await client.stat(object, '/dumps/backup.tar');
      expect(entry).toEqual({ name: 'backup.tar', size: data.length, isDir: false, hash: md5(data) });
      const item = sandbox.items().find((i) => i.name === 'backup.tar' && !i.trashed);
      expect(await sha256File(sandbox.contentPath(item!.id))).toBe(sha256(data));
      expect(await client.list(object, '/dumps')).toEqual([entry]);

      const readFd = (
        (
          await raw(socket, 'POST', `${base}/reads`, {
            token,
            body: JSON.stringify({ path: '/dumps/backup.tar', offset: 1000 }),
          })
        ).body as { fd: string }
      ).fd;
      const first = join(exchange, 'r1');
      expect(
        await raw(socket, 'POST', `/v1/reads/${readFd}/read`, {
          token,
          body: JSON.stringify({ localFile: first, size: 50_000 }),
        }),
      ).toMatchObject({ status: 200, body: { bytes: 50_000 } });
      expect((await readFile(first)).equals(data.subarray(1000, 51_000))).toBe(true);
      const rest = join(exchange, 'r2');
      expect(await client.read(readFd, rest, null)).toBe(data.length - 51_000);
      expect((await readFile(rest)).equals(data.subarray(51_000))).toBe(true);
      expect(await client.read(readFd, join(exchange, 'r3'), 10)).toBe(0);
      expect((await raw(socket, 'POST', `/v1/reads/${readFd}/close`, { token })).status).toBe(204);

      expect((await raw(socket, 'DELETE', `${base}/files?path=/dumps/backup.tar`, { token })).status).toBe(
        204,
      );
      const again = await raw(socket, 'DELETE', `${base}/files?path=/dumps/backup.tar`, { token });
      expect(again.status).toBe(404);
      expect(again.body).toMatchObject({ error: { code: 'not_found' } });
    } finally {
      await rm(exchange, { recursive: true, force: true });
    }
  });

  it('answers unknown_handle for an unknown fd', async () => {
    const exchange = join(tmpdir(), `gdrive-unknown-${process.pid}`);
    await writeFile(exchange, 'x');
    try {
      for (const path of ['/v1/writes/w-00000000000000000000000000000000/append', '/v1/reads/r-0000/read']) {
        const answer = await raw(socket, 'POST', path, {
          token,
          body: JSON.stringify({ localFile: exchange }),
        });
        expect(answer.status).toBe(404);
        expect(answer.body).toMatchObject({ error: { code: 'unknown_handle', retryable: false } });
      }
      expect((await raw(socket, 'POST', '/v1/writes/w-nope/close', { token })).body).toMatchObject({
        error: { code: 'unknown_handle' },
      });
    } finally {
      await rm(exchange, { force: true });
    }
  });
});

describe('exchange directories', () => {
  let fd: string;
  let readFd: string;
  let exchange: string;

  beforeAll(async () => {
    exchange = await mkdtemp(join(tmpdir(), 'gdrive-confine-'));
    await writeFile(join(exchange, 'small'), 'hello');
    fd = await client.openWrite(object, '/confined.bin');
    await client.append(fd, join(exchange, 'small'));
    await client.closeWrite(fd);
    fd = await client.openWrite(object, '/confined-2.bin');
    readFd = await client.openRead(object, '/confined.bin', 0);
  });

  afterAll(async () => {
    await rm(exchange, { recursive: true, force: true });
  });

  const outside = () => [
    '/etc/passwd',
    'relative/file',
    `${tmpdir()}/../etc/passwd`,
    join(exchange, '..', '..', 'etc', 'hostname'),
    join(exchange, 'link-out'),
    join(exchange, 'dir-link', 'passwd'),
  ];

  it('refuses appends from files outside them, symlinks and .. included', async () => {
    await symlink('/etc/passwd', join(exchange, 'link-out'));
    await symlink('/etc', join(exchange, 'dir-link'));
    for (const localFile of outside()) {
      const answer = await raw(socket, 'POST', `/v1/writes/${fd}/append`, {
        token,
        body: JSON.stringify({ localFile }),
      });
      expect(answer.status, localFile).toBe(403);
      expect(answer.body).toMatchObject({ error: { code: 'local_file_forbidden', retryable: false } });
    }
    // Inside is fine, also through `..` that stays inside.
    const inside = join(exchange, 'sub', '..', 'small');
    await writeFile(join(exchange, 'small'), 'hello');
    await mkdir(join(exchange, 'sub'));
    expect(await client.append(fd, inside)).toBe(5);
  });

  it('refuses reads into files outside them (the target may not exist yet)', async () => {
    for (const localFile of [...outside(), '/root/not-there-yet']) {
      const answer = await raw(socket, 'POST', `/v1/reads/${readFd}/read`, {
        token,
        body: JSON.stringify({ localFile, size: 1 }),
      });
      expect(answer.status, localFile).toBe(403);
      expect(answer.body).toMatchObject({ error: { code: 'local_file_forbidden' } });
    }
    expect((await readFile('/etc/passwd', 'utf8')).length).toBeGreaterThan(0);
    expect(await client.read(readFd, join(exchange, 'new-file'), 5)).toBe(5);
    expect(await readFile(join(exchange, 'new-file'), 'utf8')).toBe('hello');
  });
});

describe('bad requests', () => {
  it('names the field a schema violation is about', async () => {
    const cases: Array<[string, string, string | undefined, RegExp]> = [
      ['POST', `${base}/writes`, '{}', /path/],
      ['POST', `${base}/writes`, '{"path": 5}', /path/],
      ['POST', `${base}/reads`, '{"path": "/x", "offset": -1}', /offset/],
      ['POST', `${base}/reads`, '{"path": "/x", "offset": "abc"}', /offset/],
      ['POST', `${base}/reads`, '{"path": "/x"}', /offset/],
      ['GET', `${base}/stat`, undefined, /path/],
      ['POST', `${base}/oauth/start`, '{}', /redirectUri/],
      ['POST', '/v1/reads/r-1/read', '{"localFile": "/tmp/x", "size": "much"}', /size/],
      ['POST', `${base}/dirs`, '{"path": "/x", "recursive": true}', /unknown field "recursive"/],
    ];
    for (const [method, path, body, field] of cases) {
      const answer = await raw(socket, method, path, body === undefined ? { token } : { token, body });
      expect(answer.status, `${method} ${path} ${body}`).toBe(400);
      const error = (answer.body as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('bad_request');
      expect(error.message).toMatch(field);
      expect(error.message).toMatch(/^The request is invalid: .+\.$/);
    }
  });

  it('refuses malformed JSON, invalid objects and paths, unknown routes', async () => {
    expect((await raw(socket, 'POST', `${base}/dirs`, { token, body: '{"path": ' })).body).toMatchObject({
      error: { code: 'bad_request' },
    });
    const badObject = await raw(socket, 'GET', '/v1/objects/planet:1/list?path=/', { token });
    expect(badObject.status).toBe(400);
    expect(badObject.body).toMatchObject({ error: { code: 'invalid_object' } });
    const traversal = await raw(socket, 'GET', `${base}/list?path=${encodeURIComponent('/a/../../b')}`, {
      token,
    });
    expect(traversal.status).toBe(400);
    expect(traversal.body).toMatchObject({ error: { code: 'invalid_path' } });
    const unknown = await raw(socket, 'GET', '/v2/everything', { token });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({
      error: { code: 'unknown_route', message: expect.stringContaining('/v2/everything') },
    });
  });
});

describe('loopback TCP', () => {
  it('serves on 127.0.0.1:0 and refuses non-loopback hosts', async () => {
    const config = serviceConfig(join(root, 'tcp'), { listen: '127.0.0.1:0' });
    const tcp = await startService(config, { log: false });
    try {
      expect(tcp.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const answer = await fetch(`${tcp.address}/v1/health`, {
        headers: { authorization: `Bearer ${tcp.apiToken}` },
      });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ ok: true, version: CONNECTOR_VERSION });
      expect((await fetch(`${tcp.address}/v1/health`)).status).toBe(401);
      // The CLI finds it through the same listen setting.
      const port = Number(new URL(tcp.address).port);
      const found = await ServiceClient.find(
        serviceConfig(join(root, 'tcp'), { listen: `127.0.0.1:${port}` }),
      );
      expect(found?.endpoint).toEqual({ host: '127.0.0.1', port });
      await found?.close();
    } finally {
      await tcp.stop();
    }
    const open = serviceConfig(join(root, 'tcp2'), { listen: '0.0.0.0:0' });
    await expect(startService(open, { log: false })).rejects.toThrow(ConfigError);
    await expect(startService(open, { log: false })).rejects.toThrow(/loopback/);
    await expect(ServiceClient.find(open)).rejects.toThrow(ConfigError);
  });

  it('stops by itself after the idle timeout when no handle is open', async () => {
    const config = serviceConfig(join(root, 'idle'), { idleTimeout: '1' });
    // Before the start: the idle timer is armed during startService.
    const began = Date.now();
    const idle = await startService(config, { log: false });
    let stoppedByIdle = false;
    await Promise.race([
      idle.stopped.then(() => {
        stoppedByIdle = true;
      }),
      new Promise((resolve) => setTimeout(resolve, 10_000)),
    ]);
    expect(stoppedByIdle).toBe(true);
    // It waited for the timeout (1 s), not stopped at once; timers may fire a few ms early.
    expect(Date.now() - began).toBeGreaterThanOrEqual(800);
    await expect(stat(config.socketPath)).rejects.toThrow();
  });

  it('does not stop for idleness while a handle is open', async () => {
    const config = serviceConfig(join(root, 'idle-open'), { idleTimeout: '1' });
    const idle = await startService(config, { log: false });
    const idleClient = new ServiceClient({ socketPath: config.socketPath }, idle.apiToken);
    try {
      await connectObject(idleClient, object);
      const fd = await idleClient.openWrite(object, '/held-open.bin');
      const outcome = await Promise.race([
        idle.stopped.then(() => 'stopped'),
        new Promise((resolve) => setTimeout(() => resolve('still running'), 2_500)),
      ]);
      expect(outcome).toBe('still running');
      await idleClient.closeWrite(fd);
      await idleClient.close();
      await idle.stopped;
      await expect(stat(config.socketPath)).rejects.toThrow();
    } finally {
      await idleClient.close();
      await idle.stop();
    }
  });
});

describe('socket and failures', () => {
  it('gives the socket to config.socketGroup with mode 0660', async () => {
    const config = serviceConfig(join(root, 'grouped'), { socketGroup: 'users' });
    const grouped = await startService(config, { log: false });
    try {
      const info = await stat(config.socketPath);
      expect(info.mode & 0o777).toBe(0o660);
      expect(info.gid).toBe(100);
    } finally {
      await grouped.stop();
    }
    const unknown = serviceConfig(join(root, 'grouped-2'), { socketGroup: 'no-such-group-here' });
    await expect(startService(unknown, { log: false })).rejects.toThrow(/socketGroup/);
  });

  it('refuses a socket path that is something else', async () => {
    const dataDir = join(root, 'occupied');
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'connector.sock'), 'not a socket');
    await expect(startService(serviceConfig(dataDir), { log: false })).rejects.toThrow(/is not a socket/);
    expect(await readFile(join(dataDir, 'connector.sock'), 'utf8')).toBe('not a socket');
  });

  it('while stopping, finishes the request in flight and refuses new ones with service_stopping', async () => {
    // The real connector, except that check() waits until the test lets it go.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const checking = new Promise<void>((resolve) => {
      started = resolve;
    });
    const slow = withTransport(() => ({
      check: async () => {
        started();
        await gate;
        return { errors: [], warnings: [] };
      },
    }));
    const app = buildService({
      connector: slow,
      config: serviceConfig(join(root, 'data')),
      apiToken: 'token',
      log: false,
    });
    const headers = { authorization: 'Bearer token' };
    const inFlight = app.inject({ method: 'POST', url: `${base}/check`, headers });
    await checking;
    const closed = app.close();
    const refused = await app.inject({ method: 'GET', url: '/v1/health', headers });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers.connection).toBe('close');
    expect(refused.json()).toEqual({
      error: {
        code: 'service_stopping',
        message:
          'The connector service is stopping: send the request again in a moment (the service starts again on demand).',
        retryable: true,
        params: {},
      },
    });
    release();
    const answered = await inFlight;
    expect(answered.statusCode).toBe(200);
    expect(answered.json()).toEqual({ errors: [], warnings: [] });
    await closed;
  });

  it('answers an unexpected failure with internal and a generic sentence', async () => {
    // The real connector, except that one call breaks the way a bug would.
    const broken = withTransport(() => {
      throw new TypeError('secret detail of a bug');
    });
    const { lines, stream } = logCapture();
    const app = buildService({
      connector: broken,
      config: serviceConfig(join(root, 'data')),
      apiToken: 'token',
      log: { level: 'error', stream },
    });
    const answer = await app.inject({
      method: 'GET',
      url: `${base}/list?path=/`,
      headers: { authorization: 'Bearer token' },
    });
    expect(answer.statusCode).toBe(500);
    expect(answer.json()).toEqual({
      error: {
        code: 'internal',
        message: expect.stringMatching(
          /^The connector failed unexpectedly \(request req-\d+\): see the connector log\.$/,
        ),
        retryable: false,
        params: { detail: expect.stringMatching(/^request req-\d+$/) },
      },
    });
    expect(answer.body).not.toContain('secret detail');
    expect(lines.join('')).toContain('secret detail of a bug');
    expect(lines.join('')).toContain('"stack"');
    await app.close();
  });
});

describe('logs', () => {
  it('carry request ids but no token, code or client secret, even at trace level', async () => {
    const { lines, stream } = logCapture();
    const config = serviceConfig(join(root, 'logged'));
    const logged = await startService(config, { log: { level: 'trace', stream } });
    const loggedClient = new ServiceClient({ socketPath: config.socketPath }, logged.apiToken);
    let code = '';
    try {
      const { url } = await loggedClient.oauthStart(object, { redirectUri: 'http://127.0.0.1:9/callback' });
      const location = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location') ?? '');
      code = location.searchParams.get('code') ?? '';
      const state = location.searchParams.get('state') ?? '';
      await loggedClient.oauthFinish(object, { state, code });
      await loggedClient.list(object, '/');
      await raw(config.socketPath, 'GET', '/v1/health', { token: 'a-wrong-token-to-log' });
      await raw(config.socketPath, 'POST', `${base}/oauth/finish`, {
        token: logged.apiToken,
        body: JSON.stringify({ state, code: `${code}-again` }),
      });
    } finally {
      await loggedClient.close();
      await logged.stop();
    }
    const text = lines.join('');
    expect(text).toMatch(/"reqId":"req-\d+"/);
    expect(code.length).toBeGreaterThan(5);
    for (const secret of [logged.apiToken, code, 'a-wrong-token-to-log', sandbox.env.GDRIVE_CLIENT_SECRET])
      expect(text).not.toContain(secret);
    expect(text).not.toMatch(/ya29|refresh_token":"[^[]/);
  });
});

describe('logs of URLs and error codes', () => {
  it('never log a query string (a ?token= stays out) and show error codes as they are', async () => {
    const { lines, stream } = logCapture();
    const config = serviceConfig(join(root, 'query-logged'));
    const logged = await startService(config, { log: { level: 'info', stream } });
    const leaked = `${logged.apiToken}`;
    try {
      await raw(config.socketPath, 'GET', `/v1/health?token=${leaked}`, { token: logged.apiToken });
      await raw(config.socketPath, 'GET', `/v1/health?token=query-token-1&x=1`, {});
      const missing = await raw(config.socketPath, 'GET', `${base}/stat?path=/nothing&token=query-token-2`, {
        token: logged.apiToken,
      });
      expect(missing.status).toBe(400); // the unknown query field is refused, and logged without its value
      await raw(config.socketPath, 'GET', `${base}/stat?path=/nothing`, { token: logged.apiToken });
    } finally {
      await logged.stop();
    }
    const text = lines.join('');
    for (const secret of [leaked, 'query-token-1', 'query-token-2']) expect(text).not.toContain(secret);
    expect(text).toContain('"url":"/v1/health"');
    expect(text).not.toContain('[redacted]');
    expect(text).toContain('"code":"unauthorized"');
    expect(text).toContain('"code":"not_connected"');
  });
});

describe('requests the router never sees', () => {
  /** Writes `request` on a fresh connection and returns everything the service answered. */
  function rawExchange(path: string, request: string | Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
      socket.write(request);
    });
  }

  function parsed(answer: string): { status: number; body: unknown } {
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: JSON.parse(body) };
  }

  const badRequest = (retryable = false) => ({
    error: {
      code: 'bad_request',
      message: expect.stringMatching(/^The request is invalid: .+\.$/),
      retryable,
      params: { detail: expect.any(String) },
    },
  });

  it('answers over-long headers with 431 and an over-long URL part with 414, in the API shape', async () => {
    const header = `GET /v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    expect(parsed(await rawExchange(socket, header))).toEqual({ status: 431, body: badRequest() });
    const longFd = 'f'.repeat(300);
    const request = `POST /v1/writes/${longFd}/close HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`;
    expect(parsed(await rawExchange(socket, request))).toEqual({ status: 414, body: badRequest() });
    const garbage = 'NOT HTTP AT ALL\r\n\r\n';
    expect(parsed(await rawExchange(socket, garbage))).toEqual({ status: 400, body: badRequest() });
  });

  it('times out a half-sent request with 408 in the API shape', { timeout: 30_000 }, async () => {
    const dataDir = join(root, 'timeout');
    const config = serviceConfig(dataDir);
    const app = buildService({
      connector: service.connector,
      config,
      apiToken: token,
      log: false,
      requestTimeout: { ms: 500, checkEveryMs: 100 },
    });
    await mkdir(dataDir, { recursive: true });
    await app.listen({ path: join(dataDir, 'slow.sock') });
    try {
      const half = `POST /v1/writes/x/append HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"localFi`;
      expect(parsed(await rawExchange(join(dataDir, 'slow.sock'), half))).toEqual({
        status: 408,
        body: badRequest(true),
      });
    } finally {
      await app.close();
    }
  });

  it('keeps a request timeout by default', () => {
    expect(service.app.server.requestTimeout).toBeGreaterThan(0);
  });
});

describe('pid file', () => {
  it('is written before the socket accepts and removed on stop', async () => {
    const config = serviceConfig(join(root, 'pid'));
    const pidFile = join(config.dataDir, 'connector.pid');
    let pidWhenListening: string | undefined;
    // fastify logs "Server listening at" from inside listen(), once the socket accepts.
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (chunk.toString().includes('Server listening at'))
          pidWhenListening = existsSync(pidFile) ? readFileSync(pidFile, 'utf8') : 'absent';
        done();
      },
    });
    const started = await startService(config, { log: { level: 'info', stream }, pidFile });
    expect(pidWhenListening).toBe(`${process.pid}\n`);
    await started.stop();
    expect(existsSync(pidFile)).toBe(false);
  });
});

describe('account activity', () => {
  it('GET account adds when connected, the last backup written and the last failed transfer', async () => {
    const activityObject: ObjectRef = { type: 'customer', id: '44' };
    const path = '/v1/objects/customer:44/account';
    await connectObject(client, activityObject, 'activity');
    const connected = await raw(socket, 'GET', path, { token });
    const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(connected.body).toMatchObject({ connected: true, connectedAt: iso });
    expect(connected.body).not.toHaveProperty('lastBackup');
    // The code exchange brought a fresh access token: no refresh yet. Then Google drops it.
    expect(connected.body).not.toHaveProperty('tokenRefreshedAt');
    sandbox.setFaults('files.list:expire@1');
    await client.list(activityObject, '/');
    sandbox.setFaults('');
    const exchange = await mkdtemp(join(tmpdir(), 'gdrive-service-activity-'));
    try {
      const local = join(exchange, 'piece');
      await writeFile(local, randomBytes(300_000));
      const fd = await client.openWrite(activityObject, '/a/backup.tar');
      await client.append(fd, local);
      await client.closeWrite(fd);
      // Once a call has answered, what it records is on disk already: a caller comparing the
      // data dir before and after the next call sees only that call's changes.
      const stateFile = () => readFile(join(root, 'data', 'state.json'), 'utf8');
      expect(await stateFile()).toContain('activity:customer:44:backup');
      sandbox.setFaults('upload.chunk:quota403');
      const failing = await client.openWrite(activityObject, '/a/second.tar');
      await expect(client.append(failing, local)).rejects.toMatchObject({ code: 'drive_full' });
      expect(await stateFile()).toContain('activity:customer:44:error');
      sandbox.setFaults('');
      await client.cancelWrite(failing);
      const answer = await raw(socket, 'GET', path, { token });
      expect(answer.body).toMatchObject({
        connected: true,
        connectedAt: iso,
        tokenRefreshedAt: iso,
        lastBackup: { path: '/a/backup.tar', size: 300_000, at: iso },
        lastError: {
          code: 'drive_full',
          message: expect.stringMatching(/^The Google Drive of customer:44 is full/),
          path: '/a/second.tar',
          at: iso,
        },
      });
      // Another object's account shows nothing of it.
      expect((await raw(socket, 'GET', `${base}/account`, { token })).body).not.toMatchObject({
        lastError: { path: '/a/second.tar' },
      });
      // A cancelled write is gone: its fd is unknown now.
      expect(
        (
          await raw(socket, 'POST', `/v1/writes/${failing}/append`, {
            token,
            body: JSON.stringify({ localFile: local }),
          })
        ).body,
      ).toMatchObject({ error: { code: 'unknown_handle' } });
      await client.disconnect(activityObject);
      expect((await raw(socket, 'GET', path, { token })).body).toEqual({ connected: false });
    } finally {
      sandbox.setFaults('');
      await rm(exchange, { recursive: true, force: true });
    }
  });
});
