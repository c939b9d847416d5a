// `npm run package`: the zip Plesk installs. Builds it for real, reads its central directory
// (names and Unix modes), unpacks it outside the project (so no node_modules can help), and
// runs the bundled connector with plain `node`.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw } from '../service/harness.js';

const root = resolve('.');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const zipPath = join(root, 'dist', `gdrive-backup-${version}.zip`);
const MAX_BYTES = 10 * 1024 * 1024;

interface Entry {
  name: string;
  mode: number;
}

/** Names and Unix modes from the zip's central directory (what `unzip` uses to set modes). */
function centralDirectory(zip: Buffer): Entry[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('no end of central directory');
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const madeBy = zip.readUInt8(offset + 5);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const attrs = zip.readUInt32LE(offset + 38);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    entries.push({ name, mode: madeBy === 3 ? attrs >>> 16 : 0 });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

const work = mkdtempSync(join(tmpdir(), 'pkg-test-'));
const unpacked = join(work, 'ext');
const dataDir = join(work, 'data');
let zip: Buffer;
let entries: Entry[];
let output: string;

beforeAll(() => {
  output = execFileSync(process.execPath, ['scripts/package.mjs'], { cwd: root, encoding: 'utf8' });
  zip = readFileSync(zipPath);
  entries = centralDirectory(zip);
  for (const [name, data] of Object.entries(unzipSync(new Uint8Array(zip)))) {
    const target = join(unpacked, name);
    if (name.endsWith('/')) mkdirSync(target, { recursive: true });
    else {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, data);
    }
  }
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm run package', () => {
  it('prints the file summary, the size and the install command', () => {
    expect(output).toContain(`gdrive-backup ${version}: dist/gdrive-backup-${version}.zip`);
    expect(output).toMatch(/zip: [\d.]+ (KiB|MiB) \(\d+ files; at most 10\.00 MiB\)/);
    expect(output).toContain(`plesk bin extension --install gdrive-backup-${version}.zip`);
  });

  it('has the layout Plesk installs: meta.xml at the root, the hook, the connector in one file', () => {
    const names = entries.map((e) => e.name);
    const meta = readFileSync(join(unpacked, 'meta.xml'), 'utf8');
    expect(meta).toMatch(/<id>\s*gdrive-backup\s*<\/id>/);
    expect(meta).toContain(`<version>${version}</version>`);
    expect(names).toContain('plib/hooks/Backup/Transport.php');
    expect(names).toContain('plib/hooks/ApiCli.php');
    expect(names).toContain('plib/library/EventListener.php');
    expect(names).toContain('htdocs/public/oauth-callback.php');
    expect(names).not.toContain('htdocs/oauth-callback.php');
    expect(names.filter((n) => n.startsWith('plib/scripts/') && !n.endsWith('/'))).toEqual([
      'plib/scripts/post-install.php',
      'plib/scripts/pre-uninstall.php',
    ]);
    for (const size of [32, 64, 128]) expect(names).toContain(`_meta/icons/${size}x${size}.png`);
    const icon = readFileSync(join(unpacked, '_meta/icons/128x128.png'));
    // A PNG of 128 x 128 (IHDR width and height).
    expect(icon.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([icon.readUInt32BE(16), icon.readUInt32BE(20)]).toEqual([128, 128]);
    expect(meta).toContain('<plesk_min_version>18.0.60</plesk_min_version>');
    expect(names.filter((n) => n.startsWith('plib/connector/') && !n.endsWith('/'))).toEqual([
      'plib/connector/gdrive-backup.mjs',
    ]);
    const tops = new Set(names.map((n) => n.split('/')[0]));
    for (const top of tops)
      expect([
        'meta.xml',
        'DESCRIPTION.md',
        'CHANGES.md',
        'plib',
        'htdocs',
        '_meta',
        'sbin',
        'var',
      ]).toContain(top);
    expect(names.filter((n) => n.split('/').includes('node_modules'))).toEqual([]);
    expect(names.filter((n) => n.startsWith('/') || n.split('/').includes('..'))).toEqual([]);
    expect(zip.length).toBeLessThanOrEqual(MAX_BYTES);
  });

  it('gives directories 0755 and files 0644 (0755 only when executable)', () => {
    for (const { name, mode } of entries) {
      if (name.endsWith('/')) expect([name, mode]).toEqual([name, 0o40755]);
      else expect([0o100644, 0o100755], name).toContain(mode);
    }
  });
});

describe('the bundled connector, run with plain node outside the project', () => {
  const bundle = join(unpacked, 'plib/connector/gdrive-backup.mjs');
  // HOME and TMPDIR inside the test's dir: whatever the connector leaves goes with it.
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: work,
    TMPDIR: work,
    GDRIVE_BACKUP_LOG_LEVEL: 'warn',
  };

  it('prints its version', () => {
    const out = execFileSync(process.execPath, [bundle, '--version'], { cwd: work, env, encoding: 'utf8' });
    expect(out).toContain(version);
  });

  it('runs the demo (sandbox, service, backup and restore through the HTTP API, verified)', () => {
    // Proves the bundle carries everything Drive, OAuth and the stores need, not only --version.
    const out = execFileSync(
      process.execPath,
      [bundle, 'demo', '--size-mib', '8', '--piece-size', '1048576'],
      {
        cwd: work,
        env,
        encoding: 'utf8',
        timeout: 90_000,
      },
    );
    expect(out).toMatch(/checksums\s+\d+ verified/);
  });

  it('serves GET /v1/health on a unix socket with the token from <data dir>/api-token', async () => {
    const socket = join(dataDir, 'c.sock');
    const tokenFile = join(dataDir, 'api-token');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const child = spawn(process.execPath, [bundle, 'serve', '--socket', socket, '--data-dir', dataDir], {
      cwd: work,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let said = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
    });
    try {
      await readyOrExit(child, dataDir, [socket, tokenFile], () => said);
      const token = readFileSync(tokenFile, 'utf8').trim();
      const answer = await raw(socket, 'GET', '/v1/health', { token });
      expect(answer).toMatchObject({ status: 200, body: { ok: true, version } });
      // Health too needs the token (design: every request carries it).
      const refused = await raw(socket, 'GET', '/v1/health', { token: 'wrong-token' });
      expect(refused).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    } finally {
      await stop(child);
    }
  });
});

/** Resolves when every path exists; rejects if the process exits first or after 30 s. */
function readyOrExit(child: ChildProcess, dir: string, paths: string[], said: () => string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const watcher = watch(dir);
    const timer = setTimeout(() => done(new Error(`serve did not start within 30 s: ${said()}`)), 30_000);
    const onExit = (code: number | null) => done(new Error(`serve exited with ${code}: ${said()}`));
    function done(error?: Error): void {
      clearTimeout(timer);
      watcher.close();
      child.off('exit', onExit);
      if (error) reject(error);
      else resolvePromise();
    }
    const check = () => {
      if (paths.every((p) => existsSync(p))) done();
    };
    watcher.on('change', check);
    child.on('exit', onExit);
    check();
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    child.once('exit', () => resolvePromise());
    child.kill('SIGTERM');
  });
}
