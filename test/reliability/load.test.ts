// Load: 16 backups and 16 restores at once through one `gdrive-backup serve`, under seeded
// transient faults on every transfer request kind. Every transfer verifies; the service's peak
// resident set (VmHWM) and its open descriptors (/proc/<pid>/fd, sampled) stay bounded.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { bytesOf } from '../connector/data-path-fixture.js';
import { Tally } from './figures.js';
import { PROFILE } from './profile.js';
import {
  connect,
  driveFilesOnly,
  md5,
  OBJECT,
  procStats,
  ServeProcess,
  serviceFlags,
  sha256,
  type Workspace,
  workspace,
} from './service.js';

const MIB = 1024 * 1024;
/** Bounds: a Node process at rest is ~60 MiB; the transfers must not add more than their chunks. */
const MAX_RSS_BYTES = 400 * MIB;
const MAX_FDS = 256;

const tally = new Tally('load');
let sandbox: Sandbox;
let space: Workspace;

beforeAll(async () => {
  sandbox = await startSandbox({});
  space = await workspace('load');
});

afterAll(async () => {
  await tally.write();
  await sandbox?.close();
  await space?.remove();
});

function faultsFor(seed: number): string {
  return [
    `seed=${seed}`,
    'upload.chunk:503%4',
    'upload.chunk:reset%3',
    'upload.chunk:short308%3',
    'upload.status:500%5',
    'upload.start:503%5',
    'files.download:500%4',
    'files.download:reset%3',
    'files.list:503%3',
  ].join(';');
}

describe('load', () => {
  for (const seed of PROFILE.loadSeeds) {
    const n = PROFILE.loadTransfers;
    it(`seed ${seed}: ${n} backups and ${n} restores at once under faults all verify, with bounded memory and descriptors`, {
      timeout: 240_000,
    }, async () => {
      const serve = await ServeProcess.start(
        sandbox,
        space.dataDir(`load-${seed}`),
        serviceFlags(space.exchange),
      );
      const setup = await serve.client();
      let sampling = true;
      let peakFds = 0;
      const sampler = (async () => {
        while (sampling) {
          peakFds = Math.max(peakFds, (await procStats(serve.pid)).fds);
          await sleep(20);
        }
      })();
      try {
        await connect(setup);
        const dir = `/load-${seed}`;
        await setup.createDir(OBJECT, dir);
        const olds: Buffer[] = [];
        const news: Buffer[] = [];
        for (let i = 0; i < n; i++) {
          olds.push(bytesOf(PROFILE.loadFileBytes + i, seed * 1000 + i));
          news.push(bytesOf(PROFILE.loadFileBytes + 2 * i, seed * 1000 + 500 + i));
          await writeFile(join(space.exchange, `load-${seed}-old-${i}`), olds[i]!);
          await writeFile(join(space.exchange, `load-${seed}-new-${i}`), news[i]!);
        }
        // The files to restore, written before the faults.
        for (let i = 0; i < n; i++) {
          const fd = await setup.openWrite(OBJECT, `${dir}/old-${i}.tar`);
          await setup.append(fd, join(space.exchange, `load-${seed}-old-${i}`));
          await setup.closeWrite(fd);
        }
        sandbox.setFaults(faultsFor(seed));
        sandbox.resetCounters();
        const backups = news.map(async (bytes, i) => {
          const client = await serve.client();
          try {
            return await tally.transfer(bytes.length, async () => {
              const fd = await client.openWrite(OBJECT, `${dir}/new-${i}.tar`);
              await client.append(fd, join(space.exchange, `load-${seed}-new-${i}`));
              const result = await client.closeWrite(fd);
              expect(result).toEqual({ size: bytes.length, md5: md5(bytes), sha256: sha256(bytes) });
              return true;
            });
          } finally {
            await client.close();
          }
        });
        const restores = olds.map(async (bytes, i) => {
          const client = await serve.client();
          const out = join(space.exchange, `load-${seed}-restored-${i}`);
          try {
            return await tally.transfer(bytes.length, async () => {
              const fd = await client.openRead(OBJECT, `${dir}/old-${i}.tar`, 0);
              await client.read(fd, out, null);
              await client.closeRead(fd);
              expect(sha256(await readFile(out))).toBe(sha256(bytes));
              return true;
            });
          } finally {
            await client.close();
          }
        });
        tally.add('concurrentTransfers', 2 * n);
        const outcomes = await Promise.allSettled([...backups, ...restores]);
        const fired = Object.values(sandbox.faultsFired()).reduce((a, b) => a + b, 0);
        sandbox.setFaults('');
        tally.add('faultsInjected', fired);
        const failed = outcomes.filter((o) => o.status === 'rejected');
        expect(failed.map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
        tally.add('transfersVerified', outcomes.length);
        tally.add('faultsSurvived', fired);
        expect(fired, 'faults were injected').toBeGreaterThan(0);
        // Drive holds each new backup once, complete.
        const files = driveFilesOnly(sandbox);
        for (const [i, bytes] of news.entries()) {
          const paths = Object.keys(files).filter((p) => p.endsWith(`${dir}/new-${i}.tar`));
          expect(paths.map((p) => files[p])).toEqual([md5(bytes)]);
        }
        const stats = await procStats(serve.pid);
        tally.peak('peakRssBytes', stats.peakRssBytes);
        tally.peak('peakFds', peakFds);
        process.stdout.write(
          `load seed ${seed}: peak RSS ${(stats.peakRssBytes / MIB).toFixed(1)} MiB, peak ${peakFds} open descriptors, ${fired} faults injected\n`,
        );
        expect(stats.peakRssBytes).toBeLessThan(MAX_RSS_BYTES);
        expect(peakFds).toBeLessThan(MAX_FDS);
      } finally {
        sampling = false;
        await sampler.catch(() => undefined);
        sandbox.setFaults('');
        await setup.close();
        await serve.stop();
      }
    });
  }
});
