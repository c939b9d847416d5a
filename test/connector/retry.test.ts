// The retry policy as the data path relies on it, over real sockets: a local HTTP server answers
// like Drive (statuses, Google's error bodies, Retry-After, connection resets) and gaxios (the
// client under OAuth2Client.request) talks to it. What is retried, what fails at once with which
// catalogue code, and how long the Pacer waits.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gaxios } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DriveRequestError,
  failureFromBody,
  failureFromError,
  isRetryable,
  Pacer,
  parseRetryAfter,
  UPLOAD_CAP_ATTEMPTS,
} from '../../connector/drive/retry.js';
import { GdriveBackupError } from '../../connector/errors/errors.js';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

const google =
  (status: number, reason: string): Answer =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: { code: status, message: reason, errors: [{ reason, domain: 'usageLimits' }] },
      }),
    );
  };
const ok: Answer = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
};
const reset: Answer = (req) => req.socket.destroy();

describe('Pacer over real sockets', () => {
  let server: Server;
  let url: string;
  let script: Answer[] = [];
  let seen = 0;
  const client = new gaxios.Gaxios();

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen++;
      const answer = script.shift() ?? ok;
      req.resume();
      answer(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/drive/v3/files`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** Google's answer to an upload request over the 750 GB/day cap. */
  const uploadCap: Answer = (_req, res) => {
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: {
          code: 403,
          message: 'User rate limit exceeded.',
          errors: [
            { domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User rate limit exceeded.' },
          ],
        },
      }),
    );
  };

  /** One GET under the pacer, as the data path makes them (errors thrown by gaxios). */
  async function run(
    answers: Answer[],
    maxAttempts = 4,
    label = 'test',
  ): Promise<{ attempts: number; result?: unknown; error?: unknown }> {
    script = [...answers];
    seen = 0;
    const pacer = new Pacer({ maxAttempts, baseMs: 1 });
    let attempts = 0;
    try {
      const result = await pacer.run(label, { object: 'server', path: '/a.tar' }, async (attempt) => {
        attempts = attempt;
        return (await client.request({ url, retry: false })).data;
      });
      return { attempts, result };
    } catch (error) {
      return { attempts, error };
    }
  }

  const retried: Array<[string, Answer]> = [
    ['a connection reset', reset],
    ['500', google(500, 'backendError')],
    ['502', google(502, 'badGateway')],
    ['503', google(503, 'backendError')],
    ['504', google(504, 'gatewayTimeout')],
    ['403 rateLimitExceeded', google(403, 'rateLimitExceeded')],
    ['403 userRateLimitExceeded', google(403, 'userRateLimitExceeded')],
  ];
  for (const [label, answer] of retried) {
    it(`retries ${label} and succeeds on the next attempt`, async () => {
      const outcome = await run([answer, answer]);
      expect(outcome.error).toBeUndefined();
      expect(outcome.result).toEqual({ ok: true });
      expect(outcome.attempts).toBe(3);
      expect(seen).toBe(3);
    });
  }

  const finals: Array<[string, Answer, string]> = [
    ['403 storageQuotaExceeded', google(403, 'storageQuotaExceeded'), 'drive_full'],
    ['403 dailyLimitExceeded', google(403, 'dailyLimitExceeded'), 'daily_limit'],
    ['403 userUploadLimitExceeded', google(403, 'userUploadLimitExceeded'), 'daily_limit'],
    ['403 insufficientFilePermissions', google(403, 'insufficientFilePermissions'), 'permission_denied'],
    ['404 notFound', google(404, 'notFound'), 'not_found'],
    ['400 invalid', google(400, 'invalid'), 'drive_error'],
    ['401 after the refresh', google(401, 'authError'), 'reconnect_required'],
  ];
  for (const [label, answer, code] of finals) {
    it(`fails at once on ${label} with ${code}`, async () => {
      const outcome = await run([answer]);
      expect(outcome.attempts).toBe(1);
      expect(seen).toBe(1);
      expect(outcome.error).toBeInstanceOf(GdriveBackupError);
      expect(outcome.error).toMatchObject({ code });
    });
  }

  it('gives up after maxAttempts: drive_unavailable for 5xx, rate_limited for 429, both retryable', async () => {
    const down = await run(Array(5).fill(google(503, 'backendError')), 3);
    expect(down.attempts).toBe(3);
    expect(down.error).toMatchObject({ code: 'drive_unavailable', retryable: true });
    expect((down.error as Error).message).toContain('3 attempts');
    const slow = await run(Array(5).fill(google(403, 'rateLimitExceeded')), 2);
    expect(slow.error).toMatchObject({ code: 'rate_limited', retryable: true });
  });

  for (const label of ['upload.start', 'upload.chunk', 'upload.multipart']) {
    it(`reports the daily upload cap on ${label} as daily_limit after a short budget of attempts`, async () => {
      const outcome = await run(Array(10).fill(uploadCap), 8, label);
      expect(outcome.attempts).toBe(UPLOAD_CAP_ATTEMPTS);
      expect(seen).toBe(UPLOAD_CAP_ATTEMPTS);
      expect(outcome.error).toMatchObject({ code: 'daily_limit', retryable: false, status: 429 });
      expect((outcome.error as Error).message).toBe(
        "Google Drive's daily upload limit is reached: the backup can run again after the limit resets (within 24 hours).",
      );
    });
  }

  it('lets a short burst of the same answer pass on an upload request', async () => {
    const outcome = await run([uploadCap, uploadCap], 8, 'upload.chunk');
    expect(outcome.error).toBeUndefined();
    expect(outcome.attempts).toBe(3);
  });

  it('treats the same answer on a metadata request as an ordinary rate limit', async () => {
    const outcome = await run(Array(10).fill(uploadCap), 5, 'files.list');
    expect(outcome.attempts).toBe(5);
    expect(outcome.error).toMatchObject({ code: 'rate_limited', retryable: true });
  });

  it('honours Retry-After of a 429', async () => {
    const started = Date.now();
    const outcome = await run([
      (_req, res) => {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { code: 429, message: 'slow down', errors: [{ reason: 'rateLimitExceeded' }] },
          }),
        );
      },
    ]);
    expect(outcome.result).toEqual({ ok: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('passes the catalogue errors thrown inside an attempt through untouched, without retrying', async () => {
    const pacer = new Pacer({ maxAttempts: 5, baseMs: 1 });
    let attempts = 0;
    const thrown = new GdriveBackupError('upload_session_expired', { path: '/a' });
    await expect(
      pacer.run('t', {}, async () => {
        attempts++;
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    expect(attempts).toBe(1);
  });

  it('retries a DriveRequestError built from a response body (the upload path does so for 308-able requests)', async () => {
    const retried: number[] = [];
    const pacer = new Pacer({ maxAttempts: 5, baseMs: 1 }, (event) => retried.push(event.attempt));
    const attempts: number[] = [];
    const result = await pacer.run('t', {}, async (attempt) => {
      attempts.push(attempt);
      if (attempt < 3)
        throw new DriveRequestError(
          failureFromBody(503, '{"error":{"code":503,"errors":[{"reason":"backendError"}]}}'),
        );
      return 'done';
    });
    expect(result).toBe('done');
    expect(attempts).toEqual([1, 2, 3]);
    expect(retried).toEqual([1, 2]);
  });
});

describe('failure classification and backoff', () => {
  it('reads reasons from Google and OAuth error bodies', () => {
    expect(
      failureFromBody(403, { error: { code: 403, errors: [{ reason: 'storageQuotaExceeded' }] } }),
    ).toMatchObject({
      status: 403,
      reason: 'storageQuotaExceeded',
    });
    expect(
      failureFromBody(400, '{"error":"invalid_grant","error_description":"Token has been revoked."}'),
    ).toMatchObject({ reason: 'invalid_grant', message: 'Token has been revoked.' });
    expect(failureFromBody(502, '<html>bad gateway</html>')).toMatchObject({
      status: 502,
      message: '<html>bad gateway</html>',
    });
  });

  it('treats unknown errors as not Drive failures', () => {
    expect(failureFromError(new TypeError('x is not a function'))).toBeUndefined();
    expect(isRetryable({ networkCode: 'ECONNRESET' })).toBe(true);
    expect(isRetryable({ status: 403, reason: 'storageQuotaExceeded' })).toBe(false);
  });

  it('backs off exponentially with full jitter, capped, and lets a longer Retry-After win', () => {
    const low = new Pacer({ maxAttempts: 10, baseMs: 100, capMs: 1000 }, undefined, () => 0);
    const high = new Pacer({ maxAttempts: 10, baseMs: 100, capMs: 1000 }, undefined, () => 1);
    expect([1, 2, 3, 4, 5].map((a) => low.delayFor(a, {}))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((a) => high.delayFor(a, {}))).toEqual([100, 200, 400, 800, 1000]);
    expect(low.delayFor(1, { retryAfter: '3' })).toBe(3000);
    expect(high.delayFor(5, { retryAfter: '0' })).toBe(1000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
  });
});
