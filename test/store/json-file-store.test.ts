// The embedded JSON-file keyv store, on real files in a temp dir: keyv's own adapter suite, our
// conformance suite, restarts, a writer process killed mid-write, file modes, damaged files.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import keyvTestSuite from '@keyv/test-suite';
import { build } from 'esbuild';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import { silentLog } from '../../connector/log.js';
import { CorruptStoreFileError, JsonFileStore } from '../../connector/store/json-file-store.js';
import { openStores } from '../../connector/store/stores.js';
import { runStoreConformance } from './store-conformance.js';

const suiteDir = await mkdtemp(join(tmpdir(), 'json-file-store-suite-'));
afterAll(() => rm(suiteDir, { recursive: true, force: true }));

describe("keyv's adapter test suite", () => {
  // A new file per adapter: the suite makes one adapter per Keyv and lets some writes run on
  // past their test; two adapters on one file would overwrite each other (one owner per file).
  let files = 0;
  keyvTestSuite(vitest, Keyv, () => new JsonFileStore(join(suiteDir, `suite-${files++}.json`)));
});

runStoreConformance('JsonFileStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'json-file-store-'));
  const file = join(dir, 'state.json');
  return {
    store: new JsonFileStore(file),
    reopen: async () => new JsonFileStore(file),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('JsonFileStore on disk', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'json-file-store-'));
    dirs.push(dir);
    return dir;
  }
  const keyvOn = (store: JsonFileStore, namespace = 'state') =>
    new Keyv({ store, namespace, throwOnErrors: true });

  it('reads back after a restart what was written, expiry included, and nothing deleted or cleared', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const file = join(await tempDir(), 'state.json');
    const first = new JsonFileStore(file);
    const state = keyvOn(first);
    const other = keyvOn(new JsonFileStore(join(file, '..', 'other.json')), 'other');
    await state.set('record', { offset: 262144, path: 'ключ/🔑' });
    await state.set('short', 'lives a minute', 60_000);
    await state.set('long', 'lives a day', 86_400_000);
    await state.set('deleted', 'x');
    await state.delete('deleted');
    await other.disconnect();
    await state.disconnect();

    const again = keyvOn(new JsonFileStore(file));
    expect(await again.get('record')).toEqual({ offset: 262144, path: 'ключ/🔑' });
    expect(await again.get('short')).toBe('lives a minute');
    expect(await again.has('deleted')).toBe(false);
    vi.setSystemTime(Date.now() + 60_001);
    // keyv answers has() from the adapter alone: the adapter must know the expiry itself.
    expect(await again.has('short')).toBe(false);
    expect(await again.get('short')).toBeUndefined();
    expect(await again.has('long')).toBe(true);
    // The next write drops the expired entry from the file.
    await again.set('record', { offset: 524288 });
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('lives a minute');
    expect(text).toContain('lives a day');
    await again.disconnect();
  });

  it("reads a file in keyv-file's format (an existing data dir)", async () => {
    const file = join(await tempDir(), 'state.json');
    const value = (v: unknown, expires?: number) => JSON.stringify({ value: v, expires });
    const past = Date.now() - 1000;
    await writeFile(
      file,
      JSON.stringify({
        cache: [
          ['state:kept', { value: value({ a: 1 }) }],
          ['state:no-expiry', { value: value('b'), expire: null }],
          ['state:expired', { value: value('c', past), expire: past }],
          ['other:kept', { value: value('d') }],
        ],
        lastExpire: past,
      }),
    );
    const store = new JsonFileStore(file);
    const state = keyvOn(store);
    expect(await state.get('kept')).toEqual({ a: 1 });
    expect(await state.get('no-expiry')).toBe('b');
    expect(await state.has('expired')).toBe(false);
    // clear() keeps to keyv's namespace.
    await state.clear();
    expect(await state.get('kept')).toBeUndefined();
    expect(await keyvOn(new JsonFileStore(file), 'other').get('kept')).toBe('d');
  });

  it('resolves a set only after its value is in the file, and disconnect() waits for unawaited writes', async () => {
    const file = join(await tempDir(), 'state.json');
    const state = keyvOn(new JsonFileStore(file));
    await state.set('first', 1);
    const writes = Array.from({ length: 50 }, (_, i) => state.set(`k${i}`, i));
    const last = state.set('last', 'value');
    await last;
    expect(await readFile(file, 'utf8')).toContain('state:last');
    await Promise.all(writes);
    // Not awaited: disconnect() must still see it to the disk.
    void state.set('after', 'disconnect');
    void state.delete('first');
    await state.disconnect();
    const text = await readFile(file, 'utf8');
    expect(text).toContain('state:after');
    expect(text).not.toContain('state:first');
  });

  it('resolves a set or delete landing while a write is under way only once a later snapshot is on disk', async () => {
    const file = join(await tempDir(), 'state.json');
    const state = keyvOn(new JsonFileStore(file));
    const seen: Array<Promise<void>> = [];
    // One change per event-loop turn: most arrive while the previous snapshot is being written.
    for (let i = 0; i < 150; i++) {
      const change = i % 3 === 2 ? state.delete(`k${i - 1}`) : state.set(`k${i}`, i);
      seen.push(
        change.then(() => {
          // Read at once: no later write can have landed in between and hidden a stale answer.
          const text = readFileSync(file, 'utf8');
          // (k${i} with i % 3 === 1 is deleted next turn: a later snapshot may rightly lack it.)
          if (i % 3 === 2) expect(text, `after delete k${i - 1}`).not.toContain(`"state:k${i - 1}"`);
          if (i % 3 === 0) expect(text, `after set k${i}`).toContain(`"state:k${i}"`);
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(seen);
    await state.disconnect();
  });

  it('makes a missing dir 0700 and the file 0600, whatever the umask', async () => {
    const dir = join(await tempDir(), 'data', 'nested');
    const file = join(dir, 'state.json');
    const umask = process.umask(0);
    try {
      const state = keyvOn(new JsonFileStore(file));
      await state.set('a', 1);
      await state.disconnect();
    } finally {
      process.umask(umask);
    }
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('keeps the old file whole when a write is interrupted (a temp file left over)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'state.json');
    const state = keyvOn(new JsonFileStore(file));
    await state.set('record', { offset: 1 });
    await state.disconnect();
    const before = await readFile(file, 'utf8');
    // What a crash between the temp file's write and its rename leaves behind.
    const leftover = `${file}.0123456789ab.tmp`;
    await writeFile(leftover, before.slice(0, before.length - 7), { mode: 0o600 });

    const again = keyvOn(new JsonFileStore(file));
    expect(await again.get('record')).toEqual({ offset: 1 });
    await again.set('record', { offset: 2 });
    await again.disconnect();
    expect(await keyvOn(new JsonFileStore(file)).get('record')).toEqual({ offset: 2 });
    expect(await readFile(leftover, 'utf8')).toBe(before.slice(0, before.length - 7));
  });

  it('survives a writer process killed at a random moment: the file parses and holds every acknowledged set', async () => {
    const dir = await tempDir();
    const writer = join(dir, 'writer.mjs');
    await build({
      entryPoints: ['test/store/json-file-store-writer.ts'],
      outfile: writer,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'silent',
    });
    const file = join(dir, 'data', 'state.json');
    for (const killAfter of [3, 17, 40]) {
      const child = spawn(process.execPath, [writer, file], { stdio: ['ignore', 'pipe', 'inherit'] });
      let acknowledged = -1;
      for await (const line of createInterface({ input: child.stdout })) {
        acknowledged = Number(line);
        if (acknowledged >= killAfter) {
          child.kill('SIGKILL');
          break;
        }
      }
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      expect(child.signalCode).toBe('SIGKILL');
      const state = keyvOn(new JsonFileStore(file));
      for (let i = 0; i <= acknowledged; i++)
        expect((await state.get(`record-${i}`))?.i, `record-${i}`).toBe(i);
      // The next run starts again from record-0: clear what this one wrote.
      await state.clear();
      await state.disconnect();
    }
  });

  it('refuses a damaged file with a clear error, leaves it untouched and never quotes it', async () => {
    const dir = await tempDir();
    const file = join(dir, 'state.json');
    const secretish = '1//refresh-token-that-must-not-leak';
    const cases: Array<[string, RegExp]> = [
      [`{"cache": [["state:a", {"value": "${secretish}"`, /not valid JSON/],
      ['', /empty/],
      ['{"lastExpire": 1}', /no "cache" list/],
      [`{"cache": [["state:a", "${secretish}"]]}`, /an entry is not/],
      [`{"cache": [["state:a", {"value": "x", "expire": "soon"}]]}`, /an entry is not/],
    ];
    for (const [text, reason] of cases) {
      await writeFile(file, text);
      let error: unknown;
      try {
        new JsonFileStore(file);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CorruptStoreFileError);
      expect((error as Error).message).toMatch(reason);
      expect((error as Error).message).toContain(file);
      expect((error as Error).message).not.toContain(secretish);
      expect(await readFile(file, 'utf8')).toBe(text);
    }
    // A directory where the file should be cannot be read, whoever runs the test (CI is root).
    const dirInPlace = join(dir, 'dir-state.json');
    await mkdir(dirInPlace);
    expect(() => new JsonFileStore(dirInPlace)).toThrow(CorruptStoreFileError);
    expect(() => new JsonFileStore(dirInPlace)).toThrow(`${dirInPlace} is damaged (cannot be read: EISDIR)`);
    await writeFile(file, '{}');
    await chmod(file, 0o000);
    // Root reads a mode-000 file anyway: the permission case only says something for other users.
    if (process.getuid?.() !== 0) expect(() => new JsonFileStore(file)).toThrow(/cannot be read: EACCES/);
  });

  it('stops the connector with state_damaged / secrets_unavailable for a damaged state.json / secrets.json', async () => {
    const dataDir = join(await tempDir(), 'data');
    await mkdir(dataDir, { recursive: true });
    const config = loadConfig({ env: { GDRIVE_BACKUP_DATA_DIR: dataDir }, readFile: false });
    await writeFile(join(dataDir, 'state.json'), '{"cache": [');
    await expect(openStores(config, silentLog)).rejects.toMatchObject({
      code: 'state_damaged',
      message: `The connector's state file ${join(dataDir, 'state.json')} is damaged (not valid JSON): move it aside and start the connector again; backups that were in progress must run again.`,
    });
    expect(await readFile(join(dataDir, 'state.json'), 'utf8')).toBe('{"cache": [');
    await rm(join(dataDir, 'state.json'));
    await writeFile(join(dataDir, 'secrets.json'), 'garbage');
    await expect(openStores(config, silentLog)).rejects.toMatchObject({
      code: 'secrets_unavailable',
      message: expect.stringContaining(`${join(dataDir, 'secrets.json')} is damaged (not valid JSON)`),
    });
  });
});
