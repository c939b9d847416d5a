// Crash points: `gdrive-backup serve` killed with SIGKILL at seeded moments of a multi-file
// backup and of its restore (in an append, between appends, in a close, in a read), started
// again on the same data dir. The client sends the interrupted call again on the same handle, as
// Plesk's hook does after the PHP client restarted the service: every handle carries on, and
// every finished file verifies (md5 and sha256) on Drive and after the restore.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import type { RequestKind } from '../../connector/sandbox/faults.js';
import type { ServiceClient } from '../../connector/service/service-client.js';
import { bytesOf } from '../connector/data-path-fixture.js';
import { sha256File } from '../helpers/test-env.js';
import { Tally } from './figures.js';
import { between, PROFILE, seeded } from './profile.js';
import {
  CHUNK,
  connect,
  driveFilesOnly,
  md5,
  OBJECT,
  ServeProcess,
  serviceFlags,
  sha256,
  type Workspace,
  workspace,
} from './service.js';

type Moment = 'in an append' | 'between appends' | 'in a close' | 'in a read';
const MOMENTS: Moment[] = ['in an append', 'between appends', 'in a close', 'in a read'];
/** Kills per moment and seed. */
const KILLS_PER_MOMENT = PROFILE.name === 'full' ? 2 : 1;

type Step =
  | { op: 'open'; file: number }
  | { op: 'append'; file: number; piece: number }
  | { op: 'close'; file: number }
  | { op: 'openRead'; file: number }
  | { op: 'read'; file: number; part: number }
  | { op: 'closeRead'; file: number };

const tally = new Tally('crash');
let sandbox: Sandbox;
let space: Workspace;

beforeAll(async () => {
  // A little latency, so that a kill lands while a request is in flight.
  sandbox = await startSandbox({ latencyMs: 2 });
  space = await workspace('crash');
});

afterAll(async () => {
  await tally.write();
  await sandbox?.close();
  await space?.remove();
});

function plan(): Step[] {
  const steps: Step[] = [];
  for (let file = 0; file < PROFILE.crashFiles; file++) {
    steps.push({ op: 'open', file });
    for (let piece = 0; piece < PROFILE.crashPieces; piece++) steps.push({ op: 'append', file, piece });
    steps.push({ op: 'close', file });
  }
  for (let file = 0; file < PROFILE.crashFiles; file++) {
    steps.push({ op: 'openRead', file });
    for (let part = 0; part < PROFILE.crashReads; part++) steps.push({ op: 'read', file, part });
    steps.push({ op: 'closeRead', file });
  }
  return steps;
}

/** Which steps get a kill, and where: seeded, distinct steps. */
function crashes(steps: Step[], seed: number): Map<number, Moment> {
  const random = seeded(seed);
  const chosen = new Map<number, Moment>();
  const fits: Record<Moment, (s: Step) => boolean> = {
    'in an append': (s) => s.op === 'append',
    'between appends': (s) => s.op === 'append',
    'in a close': (s) => s.op === 'close',
    'in a read': (s) => s.op === 'read',
  };
  for (const moment of MOMENTS) {
    for (let n = 0; n < KILLS_PER_MOMENT; n++) {
      const candidates = steps.map((_step, i) => i).filter((i) => fits[moment](steps[i]!) && !chosen.has(i));
      if (candidates.length > 0) chosen.set(candidates[between(random, 0, candidates.length - 1)]!, moment);
    }
  }
  return chosen;
}

const KIND_OF: Partial<Record<Moment, RequestKind>> = {
  'in an append': 'upload.chunk',
  'in a close': 'upload.chunk',
  'in a read': 'files.download',
};

describe('SIGKILL of the service during a backup and a restore', () => {
  for (const seed of PROFILE.crashSeeds) {
    const steps = plan();
    const kills = crashes(steps, seed);
    const described = [...kills]
      .map(([i, m]) => `${m} (${steps[i]!.op} of file ${steps[i]!.file})`)
      .join(', ');
    it(`seed ${seed}: killed ${described}; the same handles carry on and every file verifies`, {
      timeout: 180_000,
    }, async () => {
      const dataDir = space.dataDir(`crash-${seed}`);
      const serve = await ServeProcess.start(sandbox, dataDir, serviceFlags(space.exchange));
      let client = await serve.client();
      try {
        await connect(client);
        await client.createDir(OBJECT, `/crash-${seed}`);
        const random = seeded(seed * 7919);
        const sources: Buffer[] = [];
        const pieces: string[][] = [];
        for (let file = 0; file < PROFILE.crashFiles; file++) {
          const bytes = bytesOf(PROFILE.crashPieces * PROFILE.crashPieceBytes + file, seed * 100 + file);
          sources.push(bytes);
          const paths: string[] = [];
          for (let piece = 0; piece < PROFILE.crashPieces; piece++) {
            const path = join(space.exchange, `s${seed}-f${file}-p${piece}`);
            const start = piece * PROFILE.crashPieceBytes;
            await writeFile(path, bytes.subarray(start, start + pieceLength(bytes, piece)));
            paths.push(path);
          }
          pieces.push(paths);
        }
        /** Kills that cut a call short (the others landed just after the call's answer). */
        let interrupted = 0;
        const writeFds: string[] = [];
        const readFds: string[] = [];
        const results: Array<{ size: number; md5: string; sha256: string }> = [];
        const partPath = (file: number, part: number) => join(space.exchange, `s${seed}-f${file}-r${part}`);
        const partSize = (file: number) => Math.ceil(sources[file]!.length / PROFILE.crashReads);
        const remotePath = (file: number) => `/crash-${seed}/backup-${file}.tar`;

        const run = (step: Step, c: ServiceClient): Promise<unknown> => {
          switch (step.op) {
            case 'open':
              return c.openWrite(OBJECT, remotePath(step.file)).then((fd) => {
                writeFds[step.file] = fd;
              });
            case 'append':
              return c.append(writeFds[step.file]!, pieces[step.file]![step.piece]!).then((n) => {
                expect(n).toBe(pieceLength(sources[step.file]!, step.piece));
              });
            case 'close':
              return c.closeWrite(writeFds[step.file]!).then((r) => {
                results[step.file] = r;
              });
            case 'openRead':
              return c.openRead(OBJECT, remotePath(step.file), 0).then((fd) => {
                readFds[step.file] = fd;
              });
            case 'read': {
              const last = step.part === PROFILE.crashReads - 1;
              return c.read(
                readFds[step.file]!,
                partPath(step.file, step.part),
                last ? null : partSize(step.file),
              );
            }
            case 'closeRead':
              return c.closeRead(readFds[step.file]!);
          }
        };

        for (const [index, step] of steps.entries()) {
          const moment = kills.get(index);
          if (moment === undefined) {
            await run(step, client);
            continue;
          }
          const kind = KIND_OF[moment];
          let settled = false;
          const attempt = run(step, client).then(
            () => {
              settled = true;
            },
            (error: unknown) => {
              settled = true;
              return error;
            },
          );
          if (kind) {
            // Kill once the sandbox saw a seeded number of this call's requests.
            const requests =
              step.op === 'append' ? Math.max(1, Math.floor(PROFILE.crashPieceBytes / CHUNK) - 1) : 1;
            const target = sandbox.counters()[kind] + between(random, 1, requests);
            while (!settled && sandbox.counters()[kind] < target) await sleep(1);
          } else {
            await attempt;
          }
          await serve.kill();
          tally.add('kills');
          const outcome = await attempt;
          await client.close();
          await serve.restart();
          client = await serve.client();
          // Interrupted (the answer never came): the same call again, on the same handle.
          if (outcome !== undefined) {
            interrupted += 1;
            await run(step, client);
          }
          tally.add('survived');
        }

        process.stdout.write(
          `crash seed ${seed}: ${kills.size} kills, ${interrupted} of them cut a call short\n`,
        );
        for (let file = 0; file < PROFILE.crashFiles; file++) {
          const source = sources[file]!;
          await tally.transfer(source.length * 2, async () => {
            expect(results[file]).toEqual({ size: source.length, md5: md5(source), sha256: sha256(source) });
            const path = Object.keys(driveFilesOnly(sandbox)).filter((p) => p.endsWith(remotePath(file)));
            expect(path.length, 'one copy on Drive').toBe(1);
            const item = sandbox.items().find((i) => i.md5 === md5(source) && !i.trashed);
            expect(item && (await sha256File(sandbox.contentPath(item.id)))).toBe(sha256(source));
            const parts: Buffer[] = [];
            for (let part = 0; part < PROFILE.crashReads; part++)
              parts.push(await readFile(partPath(file, part)));
            const restored = Buffer.concat(parts);
            expect(createHash('md5').update(restored).digest('hex')).toBe(md5(source));
            expect(sha256(restored)).toBe(sha256(source));
            tally.add('filesVerified');
            return true;
          });
        }
      } finally {
        await client.close();
        await serve.stop();
      }
    });
  }

  it('a restart with another chunk size carries on with the handles it left open', {
    timeout: 60_000,
  }, async () => {
    const dataDir = space.dataDir('chunk-size');
    const flags = serviceFlags(space.exchange);
    const serve = await ServeProcess.start(sandbox, dataDir, { ...flags, chunkSize: String(4 * CHUNK) });
    let client = await serve.client();
    try {
      await connect(client, { type: 'subscription', id: '11' });
      const object = { type: 'subscription', id: '11' } as const;
      // Started with 1 MiB chunks, it holds back up to a chunk; the restart makes chunks smaller.
      const source = bytesOf(7 * CHUNK + 1000, 77);
      const cut = 5 * CHUNK + 300 * 1024;
      await writeFile(join(space.exchange, 'cs-1'), source.subarray(0, cut));
      await writeFile(join(space.exchange, 'cs-2'), source.subarray(cut));
      const fd = await client.openWrite(object, '/chunk-size.tar');
      await client.append(fd, join(space.exchange, 'cs-1'));
      await client.close();
      await serve.restart(flags);
      tally.add('kills');
      client = await serve.client();
      await tally.transfer(source.length, async () => {
        await client.append(fd, join(space.exchange, 'cs-2'));
        expect(await client.closeWrite(fd)).toEqual({
          size: source.length,
          md5: md5(source),
          sha256: sha256(source),
        });
        return true;
      });
      tally.add('survived');
      tally.add('filesVerified');
    } finally {
      await client.close();
      await serve.stop();
    }
  });
});

/** The last piece takes the rest. */
function pieceLength(source: Buffer, piece: number): number {
  const start = piece * PROFILE.crashPieceBytes;
  return piece === PROFILE.crashPieces - 1 ? source.length - start : PROFILE.crashPieceBytes;
}
