// Fault matrix: every Drive and OAuth operation a backup and its restore use, times every
// transient fault the sandbox injects. Each cell runs on its own sandbox and service: the
// backup and its restore complete byte-identical, and Drive holds the new file once and whole,
// nothing else (no duplicate, no half file, the rotated old backup gone).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultKind, RequestKind } from '../../connector/sandbox/faults.js';
import { type CellOutcome, openCell, verified } from './cell.js';
import { Tally } from './figures.js';
import { between, PROFILE, seeded } from './profile.js';
import { md5, sha256 } from './service.js';

interface Operation {
  name: string;
  kind: RequestKind;
  /** Where among the run's requests of the kind the fault goes. */
  position: 'any' | 'middle' | 'last';
  /** A rule that makes the operation happen (a status query follows a failed chunk). */
  cause?: string;
}

const OPERATIONS: Operation[] = [
  { name: 'start upload', kind: 'upload.start', position: 'any' },
  { name: 'chunk PUT', kind: 'upload.chunk', position: 'middle' },
  { name: 'final chunk', kind: 'upload.chunk', position: 'last' },
  { name: 'status query', kind: 'upload.status', position: 'any', cause: 'upload.chunk:503@2' },
  { name: 'list', kind: 'files.list', position: 'any' },
  { name: 'get', kind: 'files.get', position: 'any' },
  { name: 'create folder', kind: 'files.create', position: 'any' },
  { name: 'delete', kind: 'files.delete', position: 'any' },
  { name: 'ranged GET', kind: 'files.download', position: 'any' },
  { name: 'token refresh', kind: 'oauth.token', position: 'any' },
];

/** The faults that a client must ride out; `expire` on an upload session is final (final-faults). */
const TRANSIENT: FaultKind[] = ['500', '503', '429', 'rate403', 'reset', 'slow', 'expire', 'short308'];

function applies(op: Operation, fault: FaultKind): boolean {
  if (fault === 'short308') return op.kind === 'upload.chunk';
  if (fault === 'expire') return op.kind !== 'upload.chunk' && op.kind !== 'upload.status';
  return true;
}

const tally = new Tally('matrix');
let root: string;
/** Requests of each kind in an unfaulted run (the same sizes): where the faults can go. */
let calibrated: Record<RequestKind, number>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gdrive-reliability-matrix-'));
  const cell = await openCell(root);
  try {
    calibrated = (await cell.run('', PROFILE.matrixFileBytes, 0)).counters;
  } finally {
    await cell.close();
  }
});

afterAll(async () => {
  await tally.write();
  await rm(root, { recursive: true, force: true });
});

function ruleFor(op: Operation, fault: FaultKind, seed: number): string {
  const random = seeded(seed * 1000 + OPERATIONS.indexOf(op));
  const count = op.cause ? 1 : calibrated[op.kind];
  const at =
    op.position === 'last'
      ? count
      : op.position === 'middle'
        ? between(random, 1, Math.max(1, count - 1))
        : between(random, 1, count);
  return [op.cause, `${op.kind}:${fault}@${at}`].filter(Boolean).join(';');
}

describe('an unfaulted backup and restore', () => {
  it('uses every operation of the matrix (so no cell passes without its fault firing)', () => {
    for (const op of OPERATIONS) {
      if (op.cause) continue;
      expect(calibrated[op.kind], op.name).toBeGreaterThan(op.position === 'middle' ? 1 : 0);
    }
  });
});

const cells = OPERATIONS.flatMap((op) =>
  TRANSIENT.filter((fault) => applies(op, fault)).map((fault) => ({ op, fault })),
);
tally.set('cells', cells.length * PROFILE.matrixSeeds.length);
tally.set('operations', OPERATIONS.length);
tally.set('faultKinds', TRANSIENT.length);

describe.concurrent('fault matrix', () => {
  for (const { op, fault } of cells) {
    it(`${op.name} answering ${fault}: the backup and its restore complete byte-identical, no duplicate or half file`, async () => {
      for (const seed of PROFILE.matrixSeeds) {
        const cell = await openCell(root);
        try {
          const rule = ruleFor(op, fault, seed);
          const outcome: CellOutcome = await tally
            .transfer(PROFILE.matrixFileBytes * 2, async () => {
              const result = await cell.run(rule, PROFILE.matrixFileBytes, seed);
              return verified(result) ? result : Promise.reject(new Error(describeOutcome(rule, result)));
            })
            .catch((error: unknown) => {
              tally.add(
                'faultsInjected',
                Object.values(cell.sandbox.faultsFired()).reduce((a, b) => a + b, 0),
              );
              throw error;
            });
          const fired = Object.values(outcome.fired).reduce((a, b) => a + b, 0);
          tally.add('faultsInjected', fired);
          // The fault did fire on its operation (else the cell proves nothing).
          expect(outcome.fired[op.kind], rule).toBeGreaterThanOrEqual(1);
          expect(outcome.written).toMatchObject({ md5: md5(outcome.source), sha256: sha256(outcome.source) });
          expect(outcome.restored.equals(outcome.source)).toBe(true);
          expect(outcome.duplicates).toEqual([]);
          expect(outcome.driveAfter).toEqual(outcome.expectedDrive);
          tally.add('faultsSurvived', fired);
        } finally {
          await cell.close();
        }
      }
    });
  }
});

function describeOutcome(rule: string, outcome: CellOutcome): string {
  return `${rule}: restored ${outcome.restored.equals(outcome.source) ? 'identical' : 'DIFFERENT'}, drive ${JSON.stringify(outcome.driveAfter)} (expected ${JSON.stringify(outcome.expectedDrive)}), duplicates ${JSON.stringify(outcome.duplicates)}`;
}

const EXPIRING_TWICE: RequestKind[] = [
  'files.list',
  'files.get',
  'files.create',
  'files.delete',
  'upload.start',
  'files.download',
];

describe('repeated token expiry', () => {
  for (const kind of EXPIRING_TWICE) {
    it(`${kind}: an access token that expires again on the retry after its refresh is refreshed again`, async () => {
      const cell = await openCell(root);
      try {
        // The first request of the kind gets 401, and so does its retry with the fresh token.
        const rule = `${kind}:expire@1x2`;
        const outcome = await tally
          .transfer(PROFILE.matrixFileBytes * 2, () => cell.run(rule, PROFILE.matrixFileBytes, 1))
          .finally(() => {
            tally.add(
              'faultsInjected',
              Object.values(cell.sandbox.faultsFired()).reduce((a, b) => a + b, 0),
            );
          });
        expect(outcome.fired[kind]).toBe(2);
        expect(outcome.restored.equals(outcome.source)).toBe(true);
        expect(outcome.driveAfter).toEqual(outcome.expectedDrive);
        tally.add('faultsSurvived', 2);
      } finally {
        await cell.close();
      }
    });
  }

  it('restores survive access tokens expiring on 30% of ranged GETs (a second 401 on one request is refreshed again)', async () => {
    for (const seed of PROFILE.matrixSeeds) {
      const cell = await openCell(root);
      try {
        const rule = `seed=${seed};files.download:expire%30`;
        // 16 ranged GETs: a token expiring again on the retry of a GET is all but sure.
        const size = 16 * 256 * 1024;
        const outcome = await tally
          .transfer(size * 2, () => cell.run(rule, size, seed))
          .finally(() => {
            tally.add(
              'faultsInjected',
              Object.values(cell.sandbox.faultsFired()).reduce((a, b) => a + b, 0),
            );
          });
        const fired = Object.values(outcome.fired).reduce((a, b) => a + b, 0);
        expect(outcome.fired['files.download']).toBeGreaterThanOrEqual(1);
        expect(outcome.restored.equals(outcome.source)).toBe(true);
        expect(outcome.driveAfter).toEqual(outcome.expectedDrive);
        tally.add('faultsSurvived', fired);
      } finally {
        await cell.close();
      }
    }
  });
});
