// The Plesk Key-Value Storage adapter, run through the real bridge script (kv.php) under real
// PHP on the fake pm_Settings, which encrypts for real and keeps its values in a temp JSON file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import keyvTestSuite from '@keyv/test-suite';
import Keyv from 'keyv';
import * as vitest from 'vitest';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import { ERRORS, GdriveBackupError } from '../../connector/errors/errors.js';
import { createPleskKvStore, splitCommand } from '../../connector/store/plesk-kv-store.js';

const bridge = resolve('test/php/bin/kv-bridge.php');
const dir = mkdtempSync(join(tmpdir(), 'plesk-kv-'));
const settingsFile = join(dir, 'settings.json');
const env = { ...process.env, FAKE_PLESK_SETTINGS_FILE: settingsFile };
const config = loadConfig({ env: {}, readFile: false, flags: { pleskKvCommand: `php '${bridge}'` } });

const store = () => createPleskKvStore(config, { env });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function settingsText(): string {
  try {
    return readFileSync(settingsFile, 'utf8');
  } catch {
    return '';
  }
}

function runBridge(request: unknown): { status: number | null; answer: unknown } {
  const result = spawnSync('php', [bridge], { env, input: JSON.stringify(request), encoding: 'utf8' });
  return { status: result.status, answer: JSON.parse(result.stdout) };
}

describe("keyv's adapter test suite", () => {
  keyvTestSuite(vitest, Keyv, store);
});

describe('Plesk Key-Value Storage adapter', () => {
  beforeEach(async () => {
    rmSync(settingsFile, { force: true });
  });

  it('keeps values encrypted: no plain value and no plain key in the settings file', async () => {
    const keyv = new Keyv({ store: store(), namespace: 'secrets', throwOnErrors: true });
    const secret = '1//0refresh-token-that-must-not-leak';
    await keyv.set('account:subscription:12', { refreshToken: secret });
    expect(await keyv.get('account:subscription:12')).toEqual({ refreshToken: secret });
    const text = settingsText();
    expect(text).toContain('$AES-128-CBC$');
    expect(text).not.toContain(secret);
    expect(text).not.toContain('refreshToken');
    // The index names keys (no secrets) in plain pm_Settings values; the value's name is a hash.
    expect(Object.keys(JSON.parse(text))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^kv-[0-9a-f]{40}$/), 'kv-index', 'kv-index-0']),
    );
  });

  it('refuses a value of 5001 characters with the catalogue sentence, before and inside the bridge', async () => {
    const kv = store();
    const sentence = ERRORS.secret_too_large.message.replace('{size}', '5001');
    await expect(kv.set('keyv:big', 'a'.repeat(5001))).rejects.toThrow(sentence);
    await expect(kv.set('keyv:big', 'a'.repeat(5001))).rejects.toMatchObject({ code: 'secret_too_large' });
    // Characters, not UTF-16 units: 5000 emoji are 10000 units and still fit.
    await kv.set('keyv:emoji', '😀'.repeat(5000));
    expect(await kv.get('keyv:emoji')).toBe('😀'.repeat(5000));
    await kv.set('keyv:edge', 'b'.repeat(5000));
    expect(await kv.get('keyv:edge')).toBe('b'.repeat(5000));

    const keyv = new Keyv({ store: store(), throwOnErrors: true });
    await expect(keyv.set('big', 'c'.repeat(5001))).rejects.toBeInstanceOf(GdriveBackupError);

    // The script checks on its own, for any other caller.
    const direct = runBridge({ op: 'set', key: 'keyv:big', value: 'd'.repeat(5001) });
    expect(direct.status).toBe(1);
    expect(direct.answer).toEqual({ error: { code: 'secret_too_large', message: sentence, size: 5001 } });
    // A batch with one refused value writes nothing.
    const batch = runBridge({
      op: 'setMany',
      entries: [
        { key: 'keyv:small', value: 'fine' },
        { key: 'keyv:big', value: 'e'.repeat(5001) },
      ],
    });
    expect(batch.status).toBe(1);
    expect(await kv.has!('keyv:small')).toBe(false);
    expect(await kv.has!('keyv:big')).toBe(false);
  });

  it('turns a broken command into secrets_unavailable, without the value in the message', async () => {
    const secret = 'secret-value-in-flight';
    const missingScript = createPleskKvStore(config, { command: `php ${join(dir, 'no-such-kv.php')}`, env });
    const error = await missingScript.set('keyv:x', secret).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GdriveBackupError);
    expect(error).toMatchObject({ code: 'secrets_unavailable', retryable: true });
    expect((error as Error).message).toMatch(
      /^The secrets store cannot be reached \("php" exited with code 1/,
    );
    expect((error as Error).message).not.toContain(secret);

    const missingProgram = createPleskKvStore(config, { command: join(dir, 'no-such-plesk'), env });
    await expect(missingProgram.get('keyv:x')).rejects.toMatchObject({
      code: 'secrets_unavailable',
      message: expect.stringContaining('(ENOENT)'),
    });

    const silent = createPleskKvStore(config, { command: 'php -r "exit(0);"', env });
    await expect(silent.get('keyv:x')).rejects.toMatchObject({
      code: 'secrets_unavailable',
      message: expect.stringContaining('without an answer'),
    });

    const hung = createPleskKvStore(config, { command: 'sleep 30', env, timeoutMs: 300 });
    await expect(hung.get('keyv:x')).rejects.toMatchObject({
      code: 'secrets_unavailable',
      message: expect.stringContaining('gave no answer within 1 s'),
    });

    expect(() => createPleskKvStore(config, { command: "php 'unclosed", env })).toThrow(/unclosed ' quote/);

    // keyv swallows store errors unless told otherwise: the product's keyv must throw them.
    const keyv = new Keyv({ store: missingProgram, throwOnErrors: true });
    await expect(keyv.get('x')).rejects.toMatchObject({ code: 'secrets_unavailable' });
  });

  it('keeps many and long keys: the index spans several pm_Settings values and clear empties it', async () => {
    const kv = store();
    const keys = Array.from({ length: 150 }, (_, i) => `keyv:${'k'.repeat(40)}-${i}-'"\\ ü`);
    await kv.setMany!(keys.map((key, i) => ({ key, value: `v${i}` })));
    const longKey = `keyv:${'x'.repeat(3000)}`;
    await kv.set(longKey, 'long');
    await kv.set('other:kept', 'kept');
    const settings = JSON.parse(settingsText()) as Record<string, string>;
    expect(Number(settings['kv-index'])).toBeGreaterThan(1);
    for (const value of Object.values(settings)) expect(value.length).toBeLessThanOrEqual(5000);

    expect(await kv.getMany!([keys[0]!, keys[149]!, longKey, 'keyv:none'])).toEqual([
      'v0',
      'v149',
      'long',
      undefined,
    ]);
    expect(await kv.hasMany!([keys[7]!, 'keyv:none'])).toEqual([true, false]);
    expect(await kv.deleteMany!([keys[1]!, keys[2]!])).toBe(true);
    expect(await kv.deleteMany!([keys[1]!, keys[3]!])).toBe(false);

    kv.namespace = 'keyv';
    await kv.clear();
    const after = JSON.parse(settingsText()) as Record<string, string>;
    expect(after['kv-index']).toBe('1');
    expect(Object.keys(after).filter((name) => /^kv-[0-9a-f]{40}$/.test(name))).toHaveLength(1);
    expect(await kv.get('other:kept')).toBe('kept');
    expect(await kv.get(longKey)).toBeUndefined();
  });

  it('serializes concurrent writes so the key index loses nothing', async () => {
    const keyv = new Keyv({ store: store(), throwOnErrors: true });
    await Promise.all(Array.from({ length: 8 }, (_, i) => keyv.set(`k${i}`, i)));
    await keyv.clear();
    const after = JSON.parse(settingsText()) as Record<string, string>;
    expect(Object.keys(after)).toEqual(['kv-index']);
  });

  it('splits the command like a shell, without expanding anything', () => {
    expect(splitCommand('plesk ext gdrive-backup kv')).toEqual(['plesk', 'ext', 'gdrive-backup', 'kv']);
    expect(splitCommand(`  php '/a b/kv.php' "x \\"y\\" $HOME" c\\ d `)).toEqual([
      'php',
      '/a b/kv.php',
      'x "y" $HOME',
      'c d',
    ]);
    expect(splitCommand("a '' b")).toEqual(['a', '', 'b']);
    expect(() => splitCommand('   ')).toThrow(/empty/);
    expect(() => splitCommand('a "b')).toThrow(/unclosed/);
  });
});
