// `gdrive-backup demo` (what `npm start` runs), smaller: exit 0, the summary, a clean temp dir.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli } from '../cli/run-cli.js';

it('plays a backup and restore through the HTTP API and prints the summary', {
  timeout: 90_000,
}, async () => {
  const temp = await mkdtemp(join(tmpdir(), 'gdrive-demo-test-'));
  try {
    const { code, stdout, stderr } = await runCli(['demo', '--size-mib', '24'], {
      PATH: process.env.PATH,
      HOME: temp,
      TMPDIR: temp,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/connect subscription:1 \(example\.com\): .*admin@example\.com/);
    expect(stdout).toMatch(/check: 0 errors/);
    expect(stdout).toMatch(/write \/\d{10}\/backup_\d{10}\.tar: 24\.0 MiB in 3 appendFile pieces/);
    for (const volume of ['backup.tar:', 'backup.tar1:', 'backup.tar2:'])
      expect(stdout).toContain(`split/${volume}`);
    expect(stdout).toMatch(/restore \/\d{10}\/backup_\d{10}\.tar from offset \d+: .* sha256 verified/);
    expect(stdout).toMatch(/rotation: deleteFile x2 and deleteDir/);
    expect(stdout).toMatch(/files written\s+7 /);
    expect(stdout).toMatch(/checksums\s+\d+ verified/);
    expect(stdout).toMatch(/Drive requests\s+\d+: .*upload\.chunk \d+/);
    expect(stdout).toMatch(/upload\s+[\d.]+ MiB at [\d.]+ MiB\/s/);
    expect(stdout).toMatch(/restore\s+[\d.]+ MiB at [\d.]+ MiB\/s/);
    // The tree shows the new backup, not the rotated one.
    expect(stdout).toMatch(/example\.com\/\n\s+`-- \d{10}\//);
    expect(stdout).toMatch(/backup\.tar2 \(\d+ B\)/);
    expect(await readdir(temp)).toEqual([]);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
});
