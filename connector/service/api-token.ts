/**
 * The service's bearer token: `<dataDir>/api-token`, 32 random bytes as hex, made 0600 on the
 * first start and read by every client (PHP hook, CLI). Whoever can read that file may drive the
 * connector, which is why the socket and the file share one owner.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export function apiTokenPath(dataDir: string): string {
  return join(dataDir, 'api-token');
}

/** Reads the token, creating it (and the data dir, 0700) when absent. */
export async function ensureApiToken(dataDir: string): Promise<string> {
  const existing = await readApiToken(dataDir);
  if (existing !== undefined) return existing;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('hex');
  try {
    // 'wx': two services starting at once must not overwrite each other's token.
    await writeFile(apiTokenPath(dataDir), `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const raced = await readApiToken(dataDir);
    if (raced !== undefined) return raced;
    throw error;
  }
  await chmod(apiTokenPath(dataDir), 0o600);
  return token;
}

/** The token, or undefined when the file does not exist (or is empty). */
export async function readApiToken(dataDir: string): Promise<string | undefined> {
  try {
    const text = (await readFile(apiTokenPath(dataDir), 'utf8')).trim();
    return text === '' ? undefined : text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Constant-time check of an `Authorization` header against the token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1]!, 'utf8');
  const expected = Buffer.from(token, 'utf8');
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time flat.
  if (given.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(given, expected);
}
