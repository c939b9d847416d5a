/**
 * The connector's side of each measurement, done the way the PHP hook does it: over the service's
 * HTTP API (ServiceClient), connect through the OAuth redirect flow, write a file in appendFile
 * pieces, read it back in readFile pieces.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { connectThroughLoopback, followConsentUrl } from '../cli/oauth-loopback.js';
import type { ObjectRef } from '../core/object-ref.js';
import type { WriteResult } from '../core/types.js';
import type { ServiceClient } from '../service/service-client.js';
import type { Dataset } from './test-data.js';

export const BENCH_OBJECT: ObjectRef = { type: 'server', id: null };

/** Connects BENCH_OBJECT: consent URL -> the sandbox's redirect -> loopback callback -> oauth/finish. */
export async function connectAccount(client: ServiceClient): Promise<string> {
  return (await connectThroughLoopback(client, BENCH_OBJECT, { name: 'bench' }, followConsentUrl)).email;
}

/** openFileWrite + appendFile per piece + closeFile; the time covers all three. */
export async function serviceUpload(
  client: ServiceClient,
  dataset: Dataset,
  path: string,
): Promise<WriteResult & { ms: number }> {
  const started = performance.now();
  const fd = await client.openWrite(BENCH_OBJECT, path);
  let sent = 0;
  for (const piece of dataset.pieces) sent += await client.append(fd, piece);
  const result = await client.closeWrite(fd);
  const ms = performance.now() - started;
  if (sent !== dataset.size || result.size !== dataset.size)
    throw new Error(`the service took ${sent} and stored ${result.size} bytes of ${dataset.size}`);
  return { ...result, ms };
}

/**
 * openFileRead + readFile of `pieceSize` pieces into files in `dir` + closeFile; the pieces are
 * deleted after the clock stops (the raw side keeps its one file until then too).
 */
export async function serviceDownload(
  client: ServiceClient,
  path: string,
  dir: string,
  pieceSize: number,
  /** Plesk's work on each piece (unpacking it), awaited before the next readFile. */
  afterPiece?: () => Promise<unknown>,
): Promise<{ bytes: number; ms: number }> {
  const written: string[] = [];
  const started = performance.now();
  const fd = await client.openRead(BENCH_OBJECT, path, 0);
  let bytes = 0;
  try {
    for (;;) {
      const piece = join(dir, `read-${written.length}`);
      const got = await client.read(fd, piece, pieceSize);
      written.push(piece);
      if (got === 0) break;
      bytes += got;
      if (afterPiece) await afterPiece();
    }
  } finally {
    await client.closeRead(fd);
  }
  const ms = performance.now() - started;
  for (const piece of written) await unlink(piece).catch(() => {});
  return { bytes, ms };
}
