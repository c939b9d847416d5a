// `gdrive-backup bench --quick` as a subprocess (the bundle the global setup builds): it runs
// every scenario end to end with small sizes, exits 0, writes its JSON and leaves no temp files.
// The figures of a quick run mean little; only the request count is exact at any size.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';

let root: string;
let privateTmp: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gdrive-bench-test-'));
  privateTmp = await mkdtemp(join(root, 'tmp-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

it('bench --size-mib 8 --quick --json FILE exits 0 and writes every figure', async () => {
  const jsonFile = join(root, 'bench.json');
  const { code, stdout, stderr } = await runCli(['bench', '--size-mib', '8', '--quick', '--json', jsonFile], {
    ...process.env,
    TMPDIR: privateTmp,
  });
  expect(stderr).toBe('');
  expect(code).toBe(0);

  const result = JSON.parse(await readFile(jsonFile, 'utf8'));
  expect(Object.keys(result)).toEqual(
    expect.arrayContaining(['upload', 'download', 'shaped', 'chunkSweep', 'memory', 'requests', 'verdicts']),
  );
  for (const pair of [result.upload, result.download, result.shaped.upload, result.shaped.download]) {
    expect(pair.bytes).toBe(4 * 1024 * 1024);
    expect(pair.connectorMiBs).toBeGreaterThan(0);
    expect(pair.rawMiBs).toBeGreaterThan(0);
    expect(pair.ratio).toBeCloseTo(pair.connectorMiBs / pair.rawMiBs, 1);
  }
  expect(result.chunkSweep.map((row: { chunkMib: number }) => row.chunkMib)).toEqual([8, 16, 32]);
  expect(result.memory.runs.map((row: { sizeMib: number }) => row.sizeMib)).toEqual([2, 8]);
  for (const row of result.memory.runs) expect(row.peakRssMib).toBeGreaterThanOrEqual(row.idleRssMib - 1);
  // 2.5 MiB in 2 MiB pieces: upload.start + one PUT per piece + the last, whatever the machine's speed.
  expect(result.requests).toMatchObject({ pieces: 2, expected: 4, actual: 4 });
  expect(result.verdicts).toHaveLength(8);
  for (const verdict of result.verdicts) expect(typeof verdict.ok).toBe('boolean');

  expect(stdout).toMatch(/^Verdicts$/m);
  expect(stdout).toMatch(/^ {2}(ok {10}|BELOW TARGET) {2}upload requests per file = pieces \+ 2/m);
  // Test data, service data dirs and read pieces are all gone.
  expect(await readdir(privateTmp)).toEqual([]);
}, 30_000);
