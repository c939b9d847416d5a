/**
 * `gdrive-backup demo` (what `npm start` runs): the whole product on one machine, no Google
 * account needed. It starts the Drive + OAuth sandbox and the connector service on a unix
 * socket, connects a demo account through the real OAuth redirect flow, then plays what Plesk's
 * Backup Manager does for one subscription backup and its restore, every step over the HTTP
 * API the PHP hook uses (ServiceClient): check, createDir, the backup_info XML, a backup written
 * in ~100 MiB appendFile pieces, a split set backup.tar/.tar1/.tar2, stat with the md5 Plesk
 * verifies, listDir, a restore read from an offset in sized pieces, rotation of the previous
 * backup. The backup is pseudo-random data generated piece by piece into temp files (never
 * whole in memory) and hashed on the way, so every byte that comes back is checked.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes, mibPerSecond } from '../cli/format.js';
import { connectThroughLoopback, followConsentUrl } from '../cli/oauth-loopback.js';
import { PLESK_PIECE } from '../cli/transfer.js';
import { loadConfig } from '../config/config.js';
import { formatObjectRef, type ObjectRef } from '../core/object-ref.js';
import { GdriveBackupError } from '../errors/errors.js';
import { startSandbox } from '../sandbox/drive-sandbox.js';
import { startService } from '../service/serve-command.js';
import { ServiceClient } from '../service/service-client.js';

const MIB = 1024 * 1024;

export interface DemoOptions {
  /** Size of the main backup file in MiB (default 300). */
  sizeMib?: number;
  /** Bytes per appendFile piece (default: 100 MiB, smaller for small demos so there are several). */
  pieceSize?: number;
  out?: NodeJS.WritableStream;
}

interface Totals {
  files: number;
  bytesUp: number;
  msUp: number;
  bytesDown: number;
  msDown: number;
  verified: number;
}

/** A rate only where it means something (not for a few KiB). */
function rate(bytes: number, elapsedMs: number): string {
  return bytes >= MIB ? `, ${mibPerSecond(bytes, elapsedMs)} MiB/s` : '';
}

/** Plesk's dump timestamp: YYMMDDHHmm. */
function dumpStamp(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}`;
}

export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const out = options.out ?? process.stdout;
  const sizeMib = options.sizeMib ?? 300;
  const size = sizeMib * MIB;
  const pieceSize =
    options.pieceSize ?? Math.min(PLESK_PIECE, Math.max(MIB, Math.ceil(size / 3 / MIB) * MIB));
  const started = Date.now();
  const say = (text: string) =>
    out.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}\n`);
  const totals: Totals = { files: 0, bytesUp: 0, msUp: 0, bytesDown: 0, msDown: 0, verified: 0 };

  out.write(
    "gdrive-backup demo: a Plesk subscription backup and its restore through the connector's HTTP API\n",
  );
  const root = await mkdtemp(join(tmpdir(), 'gdrive-backup-demo-'));
  const exchange = join(root, 'exchange');
  await mkdir(exchange, { mode: 0o700 });

  const sandbox = await startSandbox({});
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  let client: ServiceClient | undefined;
  try {
    say(`sandbox: local Google Drive + OAuth at ${sandbox.url}`);
    const config = loadConfig({
      env: { ...sandbox.env },
      flags: { dataDir: join(root, 'data'), logLevel: 'silent' },
      readFile: false,
    });
    service = await startService(config, { log: false });
    client = new ServiceClient({ socketPath: config.socketPath }, service.apiToken);
    const health = await client.health();
    say(`service: connector ${health.version} on ${service.address} (mode 0600, bearer token in data dir)`);

    const object: ObjectRef = { type: 'subscription', id: '1' };
    const api = client;
    // The "browser" follows the consent URL, which redirects to our loopback callback.
    const { email } = await connectThroughLoopback(api, object, { name: 'example.com' }, followConsentUrl);
    say(`connect ${formatObjectRef(object)} (example.com): consent -> callback -> oauth/finish: ${email}`);

    // Writes one remote file the way Plesk does, from generated data; returns its local hashes.
    const write = async (path: string, bytes: number, keepFrom = 0) => {
      const md5 = createHash('md5');
      const sha256 = createHash('sha256');
      const tail = createHash('sha256');
      const fd = await api.openWrite(object, path);
      const buffer = Buffer.allocUnsafe(Math.min(MIB, Math.max(bytes, 1)));
      let written = 0;
      let pieces = 0;
      let transferMs = 0;
      while (written < bytes) {
        const piecePath = join(exchange, `piece-${pieces}`);
        const piece = await open(piecePath, 'w', 0o600);
        const pieceEnd = Math.min(bytes, written + pieceSize);
        for (let at = written; at < pieceEnd; ) {
          const n = Math.min(buffer.length, pieceEnd - at);
          const chunk = buffer.subarray(0, n);
          randomFillSync(chunk);
          md5.update(chunk);
          sha256.update(chunk);
          if (at + n > keepFrom) tail.update(chunk.subarray(Math.max(0, keepFrom - at)));
          await piece.write(chunk);
          at += n;
        }
        await piece.close();
        const sending = Date.now();
        const appended = await api.append(fd, piecePath);
        transferMs += Date.now() - sending;
        await unlink(piecePath);
        if (appended !== pieceEnd - written)
          throw new GdriveBackupError('verification_failed', {
            path,
            detail: `appendFile took ${appended} of ${pieceEnd - written} bytes`,
          });
        written = pieceEnd;
        pieces++;
      }
      const closing = Date.now();
      const result = await api.closeWrite(fd);
      transferMs += Date.now() - closing;
      const local = { md5: md5.digest('hex'), sha256: sha256.digest('hex'), tailSha256: tail.digest('hex') };
      if (result.size !== bytes || result.md5 !== local.md5 || result.sha256 !== local.sha256)
        throw new GdriveBackupError('verification_failed', {
          path,
          detail: 'closeFile reports other checksums',
        });
      // What Plesk does right after creating a file: stat and compare getHash()'s md5.
      const entry = await api.stat(object, path);
      if (entry === null || entry.size !== bytes || entry.hash !== local.md5)
        throw new GdriveBackupError('verification_failed', {
          path,
          detail: `stat says ${JSON.stringify(entry)}`,
        });
      totals.files++;
      totals.bytesUp += bytes;
      totals.msUp += transferMs;
      totals.verified += 2;
      say(
        `write ${path}: ${formatBytes(bytes)} in ${pieces} appendFile piece${pieces === 1 ? '' : 's'}${rate(bytes, transferMs)}, md5 ${local.md5} verified`,
      );
      return local;
    };

    // Reads [offset, size) in pieces of `readPiece` bytes and compares the sha256 of what came back.
    const restore = async (path: string, offset: number, expectedSha256: string, readPiece: number) => {
      const t0 = Date.now();
      const fd = await api.openRead(object, path, offset);
      const sha256 = createHash('sha256');
      let received = 0;
      let pieces = 0;
      try {
        for (;;) {
          const piecePath = join(exchange, `restore-${pieces}`);
          const got = await api.read(fd, piecePath, readPiece);
          if (got === 0) break;
          for await (const chunk of createReadStream(piecePath) as AsyncIterable<Buffer>)
            sha256.update(chunk);
          await unlink(piecePath);
          received += got;
          pieces++;
        }
      } finally {
        await api.closeRead(fd);
      }
      const actual = sha256.digest('hex');
      if (actual !== expectedSha256)
        throw new GdriveBackupError('verification_failed', { path, detail: 'restored bytes differ' });
      totals.bytesDown += received;
      totals.msDown += Date.now() - t0;
      totals.verified++;
      say(
        `restore ${path} from offset ${offset}: ${formatBytes(received)} in ${pieces} readFile piece${pieces === 1 ? '' : 's'}${rate(received, Date.now() - t0)}, sha256 verified`,
      );
    };

    const check = await api.check(object);
    if (check.errors.length > 0) throw new Error(`check() failed: ${check.errors.join(' ')}`);
    say(`check: ${check.errors.length} errors, ${check.warnings.length} warnings`);

    // Yesterday's backup, rotated away at the end.
    const now = new Date();
    const old = dumpStamp(new Date(now.getTime() - 86_400_000));
    const ts = dumpStamp(now);
    await api.createDir(object, `/${old}`);
    await write(`/${old}/backup_info_${old}.xml`, 4 * 1024);
    await write(`/${old}/backup_${old}.tar`, MIB);

    await api.createDir(object, `/${ts}`);
    say(`createDir /${ts}`);
    const info = await write(`/${ts}/backup_info_${ts}.xml`, 6 * 1024 + 123);
    const restoreOffset = Math.floor(size / 3) + 4321;
    const main = await write(`/${ts}/backup_${ts}.tar`, size, restoreOffset);
    const volumeSize = Math.max(MIB, Math.floor(size / 10 / MIB) * MIB) + 17;
    const volumes: Array<{ path: string; sha256: string }> = [];
    await api.createDir(object, `/${ts}/split`);
    for (const suffix of ['', '1', '2']) {
      const path = `/${ts}/split/backup.tar${suffix}`;
      volumes.push({ path, sha256: (await write(path, volumeSize - (suffix === '2' ? 12345 : 0))).sha256 });
    }

    const listing = await api.list(object, `/${ts}`);
    say(
      `listDir /${ts}: ${listing.map((e) => (e.isDir ? `${e.name}/` : `${e.name} (${e.size})`)).join(', ')}`,
    );

    await restore(`/${ts}/backup_info_${ts}.xml`, 0, info.sha256, PLESK_PIECE);
    await restore(
      `/${ts}/backup_${ts}.tar`,
      restoreOffset,
      main.tailSha256,
      Math.max(MIB, Math.floor(pieceSize / 2)),
    );
    for (const volume of volumes) await restore(volume.path, 0, volume.sha256, pieceSize);

    await api.deleteFile(object, `/${old}/backup_${old}.tar`);
    await api.deleteFile(object, `/${old}/backup_info_${old}.xml`);
    await api.deleteDir(object, `/${old}`);
    if ((await api.stat(object, `/${old}`)) !== null) throw new Error(`rotation left /${old} behind`);
    say(`rotation: deleteFile x2 and deleteDir /${old} (previous backup removed)`);

    const quota = await api.quota(object);
    const counts = sandbox.counters();
    const used = Object.entries(counts).filter(([, n]) => n > 0);
    const requestTotal = used.reduce((sum, [, n]) => sum + n, 0);
    const lines = [
      '',
      'Summary',
      `  files written     ${totals.files} (${formatBytes(totals.bytesUp)}), rotated away 2 + 1 directory`,
      `  upload            ${formatBytes(totals.bytesUp)} at ${mibPerSecond(totals.bytesUp, totals.msUp)} MiB/s in appendFile + closeFile (pieces of ${formatBytes(pieceSize)})`,
      `  restore           ${formatBytes(totals.bytesDown)} at ${mibPerSecond(totals.bytesDown, totals.msDown)} MiB/s in openFileRead + readFile + closeFile`,
      `  checksums         ${totals.verified} verified (closeFile md5+sha256 and stat md5 per file, sha256 per restore)`,
      `  Drive requests    ${requestTotal}: ${used.map(([kind, n]) => `${kind} ${n}`).join(', ')}`,
      `  quota             ${'total' in quota ? `${formatBytes(quota.free)} free of ${formatBytes(quota.total)}` : 'unlimited'}`,
      `  time              ${((Date.now() - started) / 1000).toFixed(1)} s`,
      '',
      'Drive (sandbox) tree:',
      sandbox.tree(),
    ];
    out.write(`${lines.join('\n')}\n`);
  } finally {
    await client?.close();
    await service?.stop();
    await sandbox.close();
    await rm(root, { recursive: true, force: true });
  }
}
