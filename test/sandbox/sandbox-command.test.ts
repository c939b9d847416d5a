// `gdrive-backup sandbox`: six NAME=value lines, then `ready`; serves until stopped.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runSandboxCommand } from '../../connector/sandbox/sandbox-command.js';

const NAMES = [
  'GDRIVE_API_ROOT',
  'GDRIVE_OAUTH_AUTH_URL',
  'GDRIVE_OAUTH_TOKEN_URL',
  'GDRIVE_OAUTH_REVOKE_URL',
  'GDRIVE_CLIENT_ID',
  'GDRIVE_CLIENT_SECRET',
];

async function readUntilReady(stream: NodeJS.ReadableStream): Promise<string[]> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.includes('ready\n')) break;
  }
  return text.trimEnd().split('\n');
}

describe('runSandboxCommand', () => {
  it('prints the six env lines and ready, serves, and stops on the abort signal', async () => {
    const out = new PassThrough();
    const stop = new AbortController();
    const running = runSandboxCommand({ faults: 'files.list:503@1' }, out, stop.signal);
    const lines = await readUntilReady(out);
    expect(lines).toHaveLength(7);
    expect(lines[6]).toBe('ready');
    const env = Object.fromEntries(
      lines.slice(0, 6).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(Object.keys(env)).toEqual(NAMES);
    expect(env.GDRIVE_API_ROOT).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(env.GDRIVE_OAUTH_TOKEN_URL).toBe(`${env.GDRIVE_API_ROOT}token`);
    // It serves: an unauthenticated call gets Google's 401, the fault spec is live.
    expect((await fetch(`${env.GDRIVE_API_ROOT}drive/v3/about?fields=user`)).status).toBe(401);
    stop.abort();
    await running;
    await expect(fetch(`${env.GDRIVE_API_ROOT}drive/v3/files`)).rejects.toThrow();
  });

  it('refuses a bad fault spec before listening', async () => {
    const out = new PassThrough();
    await expect(runSandboxCommand({ faults: 'files.list:boom' }, out)).rejects.toThrow(/Bad fault rule/);
  });

  it('the built CLI passes --upload-request-ms and --public-url to the sandbox', async () => {
    const child = spawn(
      process.execPath,
      [
        'bin/gdrive-backup.mjs',
        'sandbox',
        '--upload-request-ms',
        '300',
        '--public-url',
        'https://www.googleapis.com/',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const lines = await readUntilReady(child.stdout);
      const root = lines[0]!.split('=')[1]!;
      const t0 = performance.now();
      // Unauthenticated: the 401 is an upload request's answer, so it waits too.
      const res = await fetch(`${root}upload/drive/v3/files?uploadType=resumable`, { method: 'POST' });
      expect(res.status).toBe(401);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(295);
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
  });

  it('the built CLI runs it and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['bin/gdrive-backup.mjs', 'sandbox', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const lines = await readUntilReady(child.stdout);
      expect(lines.slice(0, 6).map((l) => l.split('=')[0])).toEqual(NAMES);
      const root = lines[0]!.split('=')[1]!;
      expect((await fetch(`${root}drive/v3/about`)).status).toBe(401);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
