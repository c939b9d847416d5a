// One fault-matrix cell: its own sandbox and in-process service, a connected object with an old
// backup, then the faulted run of a backup and its restore as Plesk makes it (create the dump's
// folder, write it in two appends, close, stat, read it back, rotate the old one away).
// Every run starts with the access token expired, so it refreshes it once.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WriteResult } from '../../connector/core/types.js';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import type { RequestKind } from '../../connector/sandbox/faults.js';
import type { RunningService } from '../../connector/service/serve-command.js';
import type { ServiceClient } from '../../connector/service/service-client.js';
import { bytesOf } from '../connector/data-path-fixture.js';
import {
  connect,
  driveFiles,
  driveFilesOnly,
  inProcessService,
  md5,
  OBJECT,
  serviceFlags,
  sha256,
} from './service.js';

export const OLD_PATH = '/old/previous.tar';
export const NEW_DIR = '/run';
export const NEW_PATH = '/run/dump.tar';

export interface CellOutcome {
  written: WriteResult;
  restored: Buffer;
  source: Buffer;
  /** Requests of the faulted run, by kind. */
  counters: Record<RequestKind, number>;
  fired: Record<RequestKind, number>;
  /** Drive's files after the run (path -> md5), and the paths expected there. */
  driveAfter: Record<string, string>;
  expectedDrive: Record<string, string>;
  duplicates: string[];
}

export interface Cell {
  sandbox: Sandbox;
  client: ServiceClient;
  service: RunningService;
  /** Where the object's files are on Drive (path from the top of My Drive). */
  base: string;
  exchange: string;
  dataDir: string;
  /** The bytes of the old backup at OLD_PATH. */
  oldBytes: Buffer;
  /** Runs the backup and restore under `faults`; throws what the service answered. */
  run(faults: string, fileBytes: number, seed: number): Promise<CellOutcome>;
  close(): Promise<void>;
}

export async function openCell(root: string, flags: Record<string, string> = {}): Promise<Cell> {
  const dir = await mkdtemp(join(root, 'cell-'));
  const exchange = join(dir, 'exchange');
  const sandbox = await startSandbox({ clientSecret: 'cell-client-secret' });
  const dataDir = join(dir, 'data');
  const { service, client } = await inProcessService(sandbox, dataDir, {
    ...serviceFlags(exchange, flags),
    maxAttempts: '6',
  });
  const cell: Cell = {
    sandbox,
    client,
    service,
    base: '',
    exchange,
    dataDir,
    oldBytes: bytesOf(1000, 999),
    async run(faults, fileBytes, seed) {
      const source = bytesOf(fileBytes, seed);
      const cut = Math.floor(fileBytes / 3) + 1;
      const pieces = [join(exchange, `piece-${seed}-1`), join(exchange, `piece-${seed}-2`)];
      await writeFile(pieces[0]!, source.subarray(0, cut));
      await writeFile(pieces[1]!, source.subarray(cut));
      const out = join(exchange, `restored-${seed}`);
      // Every run starts with an expired access token, so it includes a token refresh.
      sandbox.expireAccessTokens();
      sandbox.setFaults(faults);
      sandbox.resetCounters();
      let written: WriteResult;
      try {
        // Plesk makes sure the storage's folders exist (the old one is known: a check by id).
        await client.createDir(OBJECT, '/old');
        await client.createDir(OBJECT, NEW_DIR);
        const fd = await client.openWrite(OBJECT, NEW_PATH);
        for (const piece of pieces) await client.append(fd, piece);
        written = await client.closeWrite(fd);
        await client.stat(OBJECT, NEW_PATH);
        const rfd = await client.openRead(OBJECT, NEW_PATH, 0);
        await client.read(rfd, out, null);
        await client.closeRead(rfd);
        await client.deleteFile(OBJECT, OLD_PATH);
      } finally {
        sandbox.setFaults('');
      }
      const counters = sandbox.counters();
      const fired = sandbox.faultsFired();
      const restored = await readFile(out);
      const all = driveFiles(sandbox);
      return {
        written,
        restored,
        source,
        counters,
        fired,
        driveAfter: driveFilesOnly(sandbox),
        expectedDrive: { [`${cell.base}${NEW_PATH}`]: md5(source) },
        duplicates: [...all].filter(([, v]) => v.startsWith('DUPLICATE')).map(([path]) => path),
      };
    },
    async close() {
      await client.close();
      await service.stop();
      await sandbox.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await mkdir(exchange);
    await connect(client);
    await client.createDir(OBJECT, '/old');
    await writeFile(join(exchange, 'old'), cell.oldBytes);
    const fd = await client.openWrite(OBJECT, OLD_PATH);
    await client.append(fd, join(exchange, 'old'));
    await client.closeWrite(fd);
    const [oldPath] = Object.keys(driveFilesOnly(sandbox));
    if (!oldPath?.endsWith(OLD_PATH)) throw new Error(`the old backup is not on Drive: ${oldPath}`);
    cell.base = oldPath.slice(0, -OLD_PATH.length);
  } catch (error) {
    await cell.close();
    throw error;
  }
  return cell;
}

/** Whether the outcome is what the guarantee asks: identical bytes, only the new file on Drive. */
export function verified(outcome: CellOutcome): boolean {
  return (
    outcome.restored.equals(outcome.source) &&
    outcome.written.sha256 === sha256(outcome.source) &&
    outcome.written.md5 === md5(outcome.source) &&
    outcome.duplicates.length === 0 &&
    JSON.stringify(outcome.driveAfter) === JSON.stringify(outcome.expectedDrive)
  );
}
