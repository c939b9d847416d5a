// `gdrive-backup connect` on a server, as a subprocess against a sandbox whose OAuth client is a
// "Web application" with one registered redirect URI: the browser runs elsewhere, so the admin
// pastes the address it ended on. The sandbox refuses any redirect URI that is not registered,
// as Google does, so a wrong port cannot pass here either.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { runCli } from './run-cli.js';

let sandbox: Sandbox;
let root: string;
let env: NodeJS.ProcessEnv;
/** Loopback ports held by this test, so that the CLI cannot listen on them: only the paste works. */
const held: Server[] = [];
let registeredPort: number;
let otherPort: number;

async function holdPort(): Promise<number> {
  const server = createServer((_, res) => res.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  held.push(server);
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  registeredPort = await holdPort();
  otherPort = await holdPort();
  sandbox = await startSandbox({ redirectUris: [`http://127.0.0.1:${registeredPort}/oauth2callback`] });
  root = await mkdtemp(join(tmpdir(), 'gdrive-connect-test-'));
  env = {
    PATH: process.env.PATH,
    HOME: root,
    ...sandbox.env,
    GDRIVE_BACKUP_DATA_DIR: join(root, 'data'),
    GDRIVE_RETRY_BASE_MS: '5',
  };
});

afterAll(async () => {
  await sandbox?.close();
  for (const server of held) server.close();
  await rm(root, { recursive: true, force: true });
});

interface Connect {
  child: ChildProcess;
  /** Every line printed so far. */
  lines: string[];
  /** Resolves with the first printed line matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
  exit: Promise<number | null>;
}

function connect(args: string[]): Connect {
  const child = spawn(process.execPath, ['dist/gdrive-backup.mjs', 'connect', ...args], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiting: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const out = createInterface({ input: child.stdout! });
  const err = createInterface({ input: child.stderr! });
  const take = (line: string) => {
    lines.push(line);
    for (const w of [...waiting]) {
      if (w.pattern.test(line)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  out.on('line', take);
  err.on('line', take);
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    lines,
    exit,
    line: (pattern) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        waiting.push({ pattern, resolve });
        exit.then((code) =>
          reject(new Error(`connect exited ${code} before ${pattern}:\n${lines.join('\n')}`)),
        );
      });
    },
  };
}

/** The browser on the admin's own machine: consent, then the address Google sends it to. */
async function browserEndsOn(consentUrl: string): Promise<string> {
  const response = await fetch(consentUrl, { redirect: 'manual' });
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) {
    throw new Error(`consent answered ${response.status}: ${await response.text()}`);
  }
  return location;
}

describe('connect --headless with a Web application client', () => {
  it('prints the consent URL and the redirect URI, takes the pasted address, checks its state', async () => {
    const run = connect(['--headless', '--port', String(registeredPort), '--object', 'subscription:3']);
    try {
      expect(await run.line(/^Redirect URI/)).toContain(`http://127.0.0.1:${registeredPort}/oauth2callback`);
      const consentUrl = await run.line(/^https?:\/\//);
      expect(new URL(consentUrl).searchParams.get('redirect_uri')).toBe(
        `http://127.0.0.1:${registeredPort}/oauth2callback`,
      );
      await run.line(/paste it here/);
      const address = await browserEndsOn(consentUrl);
      expect(address).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${registeredPort}/oauth2callback\\?`));

      // Noise first: not an address, then an answer of another sign-in (its state differs).
      run.child.stdin!.write('yes I allowed it\n');
      await run.line(/not the address/);
      const foreign = new URL(address);
      foreign.searchParams.set('state', 'A'.repeat(43));
      run.child.stdin!.write(`${foreign}\n`);
      await run.line(/another sign-in/);

      run.child.stdin!.write(`  "${address}"  \n`);
      expect(await run.line(/^Connected/)).toBe(
        'Connected subscription:3 to Google Drive as admin@example.com',
      );
      expect(await run.exit).toBe(0);
    } finally {
      run.child.kill();
    }
    const status = await runCli(['status', '--json', '--object', 'subscription:3'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ connected: true, email: 'admin@example.com' });
  });

  it('an unregistered port is refused by Google (the sandbox) with redirect_uri_mismatch', async () => {
    const run = connect(['--headless', '--port', String(otherPort)]);
    try {
      const consentUrl = await run.line(/^https?:\/\//);
      const consent = await fetch(consentUrl, { redirect: 'manual' });
      expect(consent.status).toBe(400);
      expect(consent.headers.get('location')).toBeNull();
      expect(await consent.text()).toContain('Error 400: redirect_uri_mismatch');
      // Nothing to paste: the admin gives up (end of input); connect says what to do.
      run.child.stdin!.end();
      expect(await run.exit).toBe(1);
      expect(run.lines.join('\n')).toContain('No answer from Google reached connect');
    } finally {
      run.child.kill();
    }
  });

  it('without --headless a busy port stops connect with a sentence naming the port', async () => {
    const result = await runCli(['connect', '--port', String(otherPort)], { ...env, DISPLAY: ':0' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `The loopback port ${otherPort} for Google's answer cannot be used (it is in use)`,
    );
  });
});

describe('connect with a Desktop app client', () => {
  it('listens on any free port, and the browser on this machine brings the answer back', async () => {
    const desktop = await startSandbox({ clientType: 'desktop' });
    const dataDir = join(root, 'desktop-data');
    const run = spawn(process.execPath, ['dist/gdrive-backup.mjs', 'connect', '--client-type', 'desktop'], {
      env: { ...env, ...desktop.env, GDRIVE_BACKUP_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const lines: string[] = [];
      const consentUrl = await new Promise<string>((resolve, reject) => {
        createInterface({ input: run.stdout! }).on('line', (line) => {
          lines.push(line);
          if (/^https?:\/\//.test(line)) resolve(line);
        });
        run.once('exit', (code) => reject(new Error(`connect exited ${code}: ${lines.join('\n')}`)));
      });
      const exited = once(run, 'exit');
      const redirect = lines.find((l) => l.startsWith('Redirect URI'))!;
      expect(redirect).toContain('"Desktop app" OAuth client takes any loopback port');
      expect(redirect).not.toContain(':28373/');
      // The consent page redirects the browser to connect's own listener.
      const page = await fetch(consentUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Connected as admin@example.com');
      expect((await exited)[0]).toBe(0);
    } finally {
      run.kill();
      await desktop.close();
    }
  });
});
