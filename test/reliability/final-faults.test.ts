// Final faults: Drive full, the daily upload cap, revoked access, an expired upload session, the
// backup's folder deleted during the backup, and retries that run out. Each ends the backup
// within seconds with the admin's sentence from the error catalogue, and leaves nothing that
// looks finished: the close that Plesk sends next does not complete the file, no file of that
// name is on Drive, the handle's spool is gone, and the older backup is untouched.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../connector/errors/errors.js';
import type { ServiceClient } from '../../connector/service/service-client.js';
import { bytesOf } from '../connector/data-path-fixture.js';
import { itemAt, sandboxDrive } from '../helpers/sandbox-drive.js';
import { type Cell, NEW_DIR, NEW_PATH, OLD_PATH, openCell } from './cell.js';
import { Tally } from './figures.js';
import { CHUNK, driveFilesOnly, md5, OBJECT, sentenceOf } from './service.js';

/** Generous: a final fault is not retried, so it ends in well under a second here. */
const ENDS_WITHIN_MS = 20_000;

const tally = new Tally('final');
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gdrive-reliability-final-'));
});

afterAll(async () => {
  await tally.write();
  await rm(root, { recursive: true, force: true });
});

interface FinalCase {
  label: string;
  codes: ErrorCode[];
  /** Injects the fault between the first and the second append. */
  inject(cell: Cell): Promise<void>;
}

const CASES: FinalCase[] = [
  {
    label: 'Drive full',
    codes: ['drive_full'],
    inject: async (c) => c.sandbox.setFaults('upload.chunk:quota403@1'),
  },
  {
    label: 'the daily upload cap',
    codes: ['daily_limit'],
    // The cap holds until the next day: every upload request is refused, not one. A single
    // refusal is a burst the connector rides out (3 attempts on upload requests, retry.ts).
    inject: async (c) => c.sandbox.setFaults('upload.chunk:daily403'),
  },
  {
    label: 'revoked access',
    codes: ['reconnect_required'],
    inject: async (c) => c.sandbox.setFaults('upload.chunk:revoke@1'),
  },
  {
    label: 'an expired upload session',
    codes: ['upload_session_expired'],
    inject: async (c) => c.sandbox.setFaults('upload.chunk:expire@1'),
  },
  {
    label: "the backup's folder deleted during the backup",
    codes: ['not_found', 'upload_session_expired', 'drive_error'],
    inject: async (c) => {
      const drive = await sandboxDrive(c.sandbox);
      const names = `${c.base}${NEW_DIR}`.split('/').filter(Boolean);
      await drive.delete(itemAt(c.sandbox, names));
    },
  },
  {
    label: 'retries that run out (chunk PUTs answering 503 every time)',
    codes: ['drive_unavailable'],
    inject: async (c) => c.sandbox.setFaults('upload.chunk:503;upload.status:503'),
  },
];
tally.set('probes', CASES.length + 1);

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string } | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    return error as { code: string; message: string };
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('final faults during a backup', () => {
  for (const fault of CASES) {
    it(`${fault.label}: ends within seconds with the admin's sentence and leaves nothing that looks finished`, async () => {
      const cell = await openCell(root);
      try {
        const source = bytesOf(3 * CHUNK + 4321, 7);
        const first = join(cell.exchange, 'first');
        const second = join(cell.exchange, 'second');
        await writeFile(first, source.subarray(0, CHUNK + 99));
        await writeFile(second, source.subarray(CHUNK + 99));
        const oldBefore = driveFilesOnly(cell.sandbox);
        await cell.client.createDir(OBJECT, NEW_DIR);
        const fd = await cell.client.openWrite(OBJECT, NEW_PATH);
        await cell.client.append(fd, first);
        await fault.inject(cell);
        const began = Date.now();
        // The rest of the backup: the fault ends it in the append or, at the latest, in the close.
        let error = await failure(cell.client.append(fd, second));
        const failedInAppend = error !== null;
        if (!failedInAppend) error = await failure(cell.client.closeWrite(fd));
        const took = Date.now() - began;
        cell.sandbox.setFaults('');
        expect(error, 'the backup failed').not.toBeNull();
        expect(fault.codes).toContain(error!.code);
        expect(error!.message).toMatch(sentenceOf(error!.code as ErrorCode));
        expect(took).toBeLessThan(ENDS_WITHIN_MS);
        if (failedInAppend) {
          // Plesk closes the file after a failed append: that close must not finish it.
          const closed = await failure(cell.client.closeWrite(fd));
          expect(closed, 'the close after the failed append did not complete the file').not.toBeNull();
          expect(closed!.message).toMatch(sentenceOf(closed!.code as ErrorCode));
        }
        const onDrive = Object.keys(driveFilesOnly(cell.sandbox)).filter((path) => path.endsWith(NEW_PATH));
        expect(onDrive, 'no file of the backup name on Drive').toEqual([]);
        expect(await exists(join(cell.dataDir, 'spool', fd)), "the handle's spool is gone").toBe(false);
        // The older backup is untouched.
        expect(driveFilesOnly(cell.sandbox)).toEqual(oldBefore);
        tally.add('endedClean');
      } finally {
        await cell.close();
      }
    });
  }

  it('a rewrite of an existing backup that fails on a full Drive keeps the previous copy, readable whole', async () => {
    const cell = await openCell(root);
    try {
      const old = driveFilesOnly(cell.sandbox);
      const oldPath = Object.keys(old)[0]!;
      const oldBytes = cell.oldBytes;
      expect(old[oldPath]).toBe(md5(oldBytes));
      const replacement = bytesOf(2 * CHUNK + 5, 8);
      await writeFile(join(cell.exchange, 'replacement'), replacement);
      const fd = await cell.client.openWrite(OBJECT, OLD_PATH);
      // In between, a reader sees the one complete old copy.
      expect(await cell.client.stat(OBJECT, OLD_PATH)).toMatchObject({
        size: oldBytes.length,
        hash: md5(oldBytes),
      });
      cell.sandbox.setFaults('upload.chunk:quota403@1');
      const error = await failure(
        (async () => {
          await cell.client.append(fd, join(cell.exchange, 'replacement'));
          await cell.client.closeWrite(fd);
        })(),
      );
      cell.sandbox.setFaults('');
      expect(error?.code).toBe('drive_full');
      await failure(cell.client.closeWrite(fd));
      const after = driveFilesOnly(cell.sandbox);
      if (after[oldPath] !== md5(oldBytes)) tally.lost(oldBytes.length);
      expect(after).toEqual(old);
      const restored = await readBack(cell.client, cell.exchange);
      expect(restored.equals(oldBytes)).toBe(true);
      tally.add('endedClean');
    } finally {
      await cell.close();
    }
  });
});

async function readBack(client: ServiceClient, exchange: string): Promise<Buffer> {
  const out = join(exchange, 'old-restored');
  const fd = await client.openRead(OBJECT, OLD_PATH, 0);
  await client.read(fd, out, null);
  await client.closeRead(fd);
  return readFile(out);
}
