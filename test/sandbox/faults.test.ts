// Fault injection: the spec grammar, the firing rules (@N, xCOUNT, %RATE, seed), each fault
// kind acted out on the wire, and the request counters.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { FaultPlan, parseFaultSpec } from '../../connector/sandbox/faults.js';
import {
  accessToken,
  bearer,
  type Harness,
  harness,
  KIB256,
  pattern,
  putChunk,
  startUpload,
  uploadFile,
} from './helpers.js';

type ErrorBody = { error: { code: number; errors: Array<{ reason: string; domain: string }> } };

describe('fault spec', () => {
  it('parses rules and seeds', () => {
    expect(
      parseFaultSpec(
        'upload.chunk:reset@3; files.download:503%20 ;upload.chunk:short308@2x3;files.list:429;seed=7',
      ),
    ).toEqual([
      { kind: 'upload.chunk', fault: 'reset', at: 3, count: 1, rate: null },
      { kind: 'files.download', fault: '503', at: 1, count: null, rate: 20 },
      { kind: 'upload.chunk', fault: 'short308', at: 2, count: 3, rate: null },
      { kind: 'files.list', fault: '429', at: 1, count: null, rate: null },
    ]);
    expect(parseFaultSpec('*:slowx2')).toEqual([{ kind: '*', fault: 'slow', at: 1, count: 2, rate: null }]);
    expect(parseFaultSpec('')).toEqual([]);
  });

  it('refuses bad rules with a message naming them', () => {
    expect(() => parseFaultSpec('upload.chunk:explode')).toThrow(/upload.chunk:explode/);
    expect(() => parseFaultSpec('files.nothing:500')).toThrow(/unknown request kind/);
    expect(() => parseFaultSpec('files.list:500@0')).toThrow(/@N/);
    expect(() => parseFaultSpec('files.list:500%0')).toThrow(/RATE/);
    expect(() => parseFaultSpec('files.list')).toThrow(/KIND:FAULT/);
  });

  it('@N fires on the Nth request once; xCOUNT in a row; no suffix every time', () => {
    const fires = (spec: string, n: number): string => {
      const plan = new FaultPlan(spec);
      return Array.from({ length: n }, () => (plan.decide('files.list') ? 'F' : '.')).join('');
    };
    expect(fires('files.list:500@3', 6)).toBe('..F...');
    expect(fires('files.list:500@2x3', 6)).toBe('.FFF..');
    expect(fires('files.list:500x2', 4)).toBe('FF..');
    expect(fires('files.list:500', 3)).toBe('FFF');
    expect(fires('files.get:500', 3)).toBe('...');
    expect(fires('*:500@2', 3)).toBe('.F.');
  });

  it('%RATE is repeatable for a seed and roughly that share', () => {
    const run = (spec: string): string => {
      const plan = new FaultPlan(spec);
      return Array.from({ length: 400 }, () => (plan.decide('files.download') ? 'F' : '.')).join('');
    };
    const a = run('seed=42;files.download:503%20');
    expect(run('seed=42;files.download:503%20')).toBe(a);
    expect(run('seed=43;files.download:503%20')).not.toBe(a);
    const share = a.split('').filter((c) => c === 'F').length / 400;
    expect(share).toBeGreaterThan(0.12);
    expect(share).toBeLessThan(0.28);
  });
});

describe('faults on the wire', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.sandbox.setFaults(''));

  it('options.faults applies from the start; setFaults("") clears', async () => {
    const own = await harness({ faults: 'drives.get:500' });
    try {
      const id = own.sandbox.createSharedDrive('d');
      expect((await own.api(`drive/v3/drives/${id}`)).status).toBe(500);
      expect((await own.api(`drive/v3/drives/${id}`)).status).toBe(500);
      own.sandbox.setFaults('');
      expect((await own.api(`drive/v3/drives/${id}`)).status).toBe(200);
      expect(() => own.sandbox.setFaults('nonsense')).toThrow(/Bad fault rule/);
    } finally {
      await own.close();
    }
  });

  it('a bad options.faults throws before the sandbox makes its content directory', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'sandbox-badspec-'));
    try {
      const dir = join(parent, 'content');
      await expect(startSandbox({ faults: 'nonsense', dir })).rejects.toThrow(/Bad fault rule/);
      expect(existsSync(dir)).toBe(false);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('500, 503, 429 (Retry-After: 1), rate403, daily403, quota403 in Drive error shape', async () => {
    const expected: Array<[string, number, string, string | null]> = [
      ['500', 500, 'backendError', null],
      ['503', 503, 'backendError', null],
      ['429', 429, 'rateLimitExceeded', '1'],
      ['rate403', 403, 'rateLimitExceeded', null],
      ['daily403', 403, 'userRateLimitExceeded', null],
      ['quota403', 403, 'storageQuotaExceeded', null],
    ];
    for (const [fault, status, reason, retryAfter] of expected) {
      h.sandbox.setFaults(`files.list:${fault}@1`);
      const res = await h.api('drive/v3/files');
      expect(res.status, fault).toBe(status);
      expect(res.headers.get('retry-after')).toBe(retryAfter);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe(status);
      expect(body.error.errors[0]!.reason).toBe(reason);
      expect((await h.api('drive/v3/files')).status, `${fault} fires once`).toBe(200);
    }
  });

  it("daily403 answers the 750 GB/day cap exactly as Google does: userRateLimitExceeded, 'User rate limit exceeded.'", async () => {
    const session = await startUpload(h, { name: 'capped' });
    h.sandbox.setFaults('upload.chunk:daily403@1');
    const res = await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, pattern(KIB256));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({
      error: {
        code: 403,
        message: 'User rate limit exceeded.',
        errors: [
          { domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User rate limit exceeded.' },
        ],
      },
    });
    // Nothing of the refused chunk was kept.
    expect((await putChunk(h, session, 'bytes */*', Buffer.alloc(0))).headers.get('range')).toBeNull();
  });

  it('an error fault on an upload chunk persists nothing of it and the answer arrives cleanly', async () => {
    const session = await startUpload(h, { name: 'e' });
    h.sandbox.setFaults('upload.chunk:503@1');
    const res = await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, pattern(KIB256));
    expect(res.status).toBe(503);
    const st = await putChunk(h, session, 'bytes */*', Buffer.alloc(0));
    expect(st.status).toBe(308);
    expect(st.headers.get('range')).toBeNull();
  });

  it('reset on an upload chunk: connection cut mid-body, nothing of that chunk persisted', async () => {
    const data = pattern(KIB256 * 3, 21);
    const session = await startUpload(h, { name: 'r' }, '&fields=sha256Checksum');
    expect((await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, data.subarray(0, KIB256))).status).toBe(
      308,
    );
    h.sandbox.setFaults('upload.chunk:reset@1');
    await expect(
      putChunk(h, session, `bytes ${KIB256}-${3 * KIB256 - 1}/${3 * KIB256}`, data.subarray(KIB256)),
    ).rejects.toThrow();
    const st = await putChunk(h, session, 'bytes */*', Buffer.alloc(0));
    expect(st.headers.get('range')).toBe(`bytes=0-${KIB256 - 1}`);
    const done = await putChunk(
      h,
      session,
      `bytes ${KIB256}-${3 * KIB256 - 1}/${3 * KIB256}`,
      data.subarray(KIB256),
    );
    expect(done.status).toBe(200);
    expect(((await done.json()) as { sha256Checksum: string }).sha256Checksum).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  });

  it('reset on a download: part of the body is sent, then the connection dies', async () => {
    const data = pattern(KIB256 * 2, 22);
    const id = await uploadFile(h, 'rd', data);
    h.sandbox.setFaults('files.download:reset@1');
    const res = await h.api(`drive/v3/files/${id}?alt=media`);
    expect(res.status).toBe(200);
    let received = 0;
    await expect(
      (async () => {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) received += chunk.length;
      })(),
    ).rejects.toThrow();
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(data.length);
  });

  it('reset on a metadata call: no answer at all', async () => {
    h.sandbox.setFaults('files.list:reset@1');
    await expect(h.api('drive/v3/files')).rejects.toThrow();
    expect((await h.api('drive/v3/files')).status).toBe(200);
  });

  it('short308: 308 with Range at the 256 KiB boundary below what was sent; the client resends the rest', async () => {
    const data = pattern(KIB256 * 3 + 100, 23);
    const session = await startUpload(h, { name: 's' }, '&fields=sha256Checksum,size');
    h.sandbox.setFaults('upload.chunk:short308@1');
    const res = await putChunk(h, session, `bytes 0-${data.length - 1}/${data.length}`, data);
    expect(res.status).toBe(308);
    expect(res.headers.get('range')).toBe(`bytes=0-${3 * KIB256 - 1}`);
    h.sandbox.setFaults('');
    const res2 = await putChunk(h, session, `bytes 0-${2 * KIB256 - 1}/*`, data.subarray(0, 2 * KIB256));
    // A resend of what is persisted overlaps it: refused, and the Range stays.
    expect(res2.status).toBe(400);
    expect((await putChunk(h, session, 'bytes */*', Buffer.alloc(0))).headers.get('range')).toBe(
      `bytes=0-${3 * KIB256 - 1}`,
    );
    const done = await putChunk(
      h,
      session,
      `bytes ${3 * KIB256}-${data.length - 1}/${data.length}`,
      data.subarray(3 * KIB256),
    );
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({
      sha256Checksum: createHash('sha256').update(data).digest('hex'),
      size: String(data.length),
    });
  });

  it('expire on an upload: the session is gone (404) from then on', async () => {
    const session = await startUpload(h, { name: 'x' });
    h.sandbox.setFaults('upload.status:expire@1');
    expect((await putChunk(h, session, 'bytes */*', Buffer.alloc(0))).status).toBe(404);
    h.sandbox.setFaults('');
    expect((await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, pattern(KIB256))).status).toBe(404);
  });

  it('expire on other kinds: access tokens expire (401) until refreshed', async () => {
    const own = await harness({ faults: 'about.get:expire@1' });
    try {
      expect((await own.api('drive/v3/about?fields=user')).status).toBe(401);
      expect((await own.api('drive/v3/about?fields=user')).status).toBe(401);
      const fresh = (await accessToken(own.sandbox, own.refreshToken)).body.access_token as string;
      const ok = await fetch(`${own.sandbox.url}drive/v3/about?fields=user`, { headers: bearer(fresh) });
      expect(ok.status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('revoke: every token revoked (401, refresh invalid_grant)', async () => {
    const own = await harness({ faults: 'files.list:revoke@2' });
    try {
      expect((await own.api('drive/v3/files')).status).toBe(200);
      expect((await own.api('drive/v3/files')).status).toBe(401);
      expect((await accessToken(own.sandbox, own.refreshToken)).body.error).toBe('invalid_grant');
    } finally {
      await own.close();
    }
  });

  it('slow: about 2 s more, then a normal answer', async () => {
    h.sandbox.setFaults('files.list:slow@1');
    const t0 = performance.now();
    expect((await h.api('drive/v3/files')).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1900);
  });

  it('faults on OAuth kinds too', async () => {
    h.sandbox.setFaults('oauth.token:503@1');
    expect((await accessToken(h.sandbox, h.refreshToken)).status).toBe(503);
    expect((await accessToken(h.sandbox, h.refreshToken)).status).toBe(200);
  });

  it('counters count requests by kind, faulted ones included; resetCounters zeroes them', async () => {
    h.sandbox.resetCounters();
    expect(Object.values(h.sandbox.counters()).every((n) => n === 0)).toBe(true);
    h.sandbox.setFaults('files.list:503x2');
    await h.api('drive/v3/files');
    await h.api('drive/v3/files');
    await h.api('drive/v3/files');
    await h.api('drive/v3/about?fields=user');
    const session = await startUpload(h, { name: 'c' });
    await putChunk(h, session, 'bytes */*', Buffer.alloc(0));
    await putChunk(h, session, `bytes 0-${KIB256 - 1}/*`, pattern(KIB256));
    await h.api('drive/v3/nothing-here');
    expect(h.sandbox.counters()).toEqual(
      expect.objectContaining({
        'files.list': 3,
        'about.get': 1,
        'upload.start': 1,
        'upload.status': 1,
        'upload.chunk': 1,
        'files.get': 0,
        'oauth.token': 0,
      }),
    );
  });
});
