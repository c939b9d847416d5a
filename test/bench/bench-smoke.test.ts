// `gdrive-backup bench --quick` as a subprocess (the bundle the global setup builds): every
// scenario runs end to end with small sizes (rclone against the same sandbox through the TLS
// proxy, the service, the CLI, on the three links), exits 0, writes its JSON and leaves no temp
// files. The figures of a quick run mean little; the request count is exact at any size.
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

it('bench --quick --json FILE exits 0 and writes every figure, rclone beside the connector', async () => {
  const jsonFile = join(root, 'bench.json');
  const { code, stdout, stderr } = await runCli(['bench', '--quick', '--json', jsonFile], {
    ...process.env,
    TMPDIR: privateTmp,
  });
  expect(stderr).toBe('');
  expect(code).toBe(0);

  const result = JSON.parse(await readFile(jsonFile, 'utf8'));
  expect(result.machine.rclone).toMatch(/^rclone v1\./);
  expect(result.links.map((link: { link: string }) => link.link)).toEqual(['plain', 'shaped', 'drive-like']);
  for (const link of result.links) {
    expect(Object.keys(link.upload)).toEqual(
      expect.arrayContaining(['service', 'cli', 'rclone', 'rclone --drive-chunk-size 64M']),
    );
    expect(Object.keys(link.download)).toEqual(
      expect.arrayContaining([
        'service',
        'cli',
        'rclone --multi-thread-streams 4',
        'rclone --multi-thread-streams 1',
      ]),
    );
    for (const figures of [...Object.values(link.upload), ...Object.values(link.download)])
      expect((figures as { MiBs: number }).MiBs).toBeGreaterThan(0);
    expect(link.uploadRatio).toBeGreaterThan(0);
    expect(link.downloadRatio).toBeGreaterThan(0);
  }
  expect(result.memory.map((row: { sizeMib: number }) => row.sizeMib)).toEqual([4, 16]);
  expect(result.phpAppend).toMatchObject({ calls: 20 });
  expect(result.restore.withWorkSeconds).toBeGreaterThan(0);
  // 5 MiB in 2 MiB pieces: one session start, one PUT per piece and the close's, whatever the speed.
  expect(result.requests).toMatchObject({ pieces: 3, starts: 1, expected: 4, actual: 4 });
  expect(result.verdicts.length).toBeGreaterThanOrEqual(14);
  for (const verdict of result.verdicts) expect(typeof verdict.ok).toBe('boolean');

  expect(stdout).toMatch(/^Verdicts$/m);
  expect(stdout).toMatch(/^ {2}(ok {10}|BELOW TARGET) {2}upload PUTs per file = pieces \+ 1/m);
  // Test data, service data dirs, rclone's home and read pieces are all gone.
  expect(await readdir(privateTmp)).toEqual([]);
}, 180_000);
