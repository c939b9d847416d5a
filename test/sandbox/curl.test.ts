// The resumable protocol driven by curl, a client that is not ours and not Node's: start,
// a chunk answered 308 + Range, a status query, the final 200.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness, KIB256, pattern } from './helpers.js';

const run = promisify(execFile);

/** Runs curl (asynchronously: the sandbox lives in this process) and splits status, headers, body. */
async function curl(
  args: string[],
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { stdout } = await run('curl', ['-sS', '-D', '-', ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  // Skip a `100 Continue` preamble if curl asked for one.
  const blocks = stdout.split('\r\n\r\n');
  while (blocks.length > 1 && /^HTTP\/[\d.]+ 100/.test(blocks[0]!)) blocks.shift();
  const [head, ...rest] = blocks;
  const lines = head!.split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: rest.join('\r\n\r\n') };
}

describe('curl against the sandbox', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    h = await harness();
    dir = mkdtempSync(join(tmpdir(), 'sandbox-curl-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await h.close();
  });

  it('start, chunk 308 + Range, status query, final 200 with checksums', async () => {
    const data = pattern(KIB256 * 2 + 4321, 31);
    writeFileSync(join(dir, 'first'), data.subarray(0, KIB256 * 2));
    writeFileSync(join(dir, 'rest'), data.subarray(KIB256 * 2));
    const auth = ['-H', `Authorization: Bearer ${h.token}`];

    const start = await curl([
      '-X',
      'POST',
      ...auth,
      '-H',
      'Content-Type: application/json; charset=UTF-8',
      '-H',
      `X-Upload-Content-Length: ${data.length}`,
      '--data-binary',
      JSON.stringify({ name: 'by-curl.bin' }),
      `${h.sandbox.url}upload/drive/v3/files?uploadType=resumable&fields=id,name,size,md5Checksum,sha256Checksum`,
    ]);
    expect(start.status).toBe(200);
    const session = start.headers.location!;
    expect(session).toContain('upload_id=');

    const put = (contentRange: string, dataBinary: string): ReturnType<typeof curl> =>
      curl([
        '-X',
        'PUT',
        ...auth,
        '-H',
        `Content-Range: ${contentRange}`,
        '--data-binary',
        dataBinary,
        session,
      ]);

    const chunk = await put(`bytes 0-${KIB256 * 2 - 1}/*`, `@${join(dir, 'first')}`);
    expect(chunk.status).toBe(308);
    expect(chunk.headers.range).toBe(`bytes=0-${KIB256 * 2 - 1}`);

    const status = await put('bytes */*', '');
    expect(status.status).toBe(308);
    expect(status.headers.range).toBe(`bytes=0-${KIB256 * 2 - 1}`);

    const final = await put(`bytes ${KIB256 * 2}-${data.length - 1}/${data.length}`, `@${join(dir, 'rest')}`);
    expect(final.status).toBe(200);
    expect(JSON.parse(final.body)).toEqual({
      id: expect.any(String),
      name: 'by-curl.bin',
      size: String(data.length),
      md5Checksum: createHash('md5').update(data).digest('hex'),
      sha256Checksum: createHash('sha256').update(data).digest('hex'),
    });
  });
});
