// The bench's service child runs like the PHP hook starts it: the bundle under node with the
// service's V8 options (a small young generation keeps its peak RSS under 100 MiB).
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandboxChild, startServiceChild } from '../../connector/bench/child-processes.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gdrive-bench-child-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

it('starts the service with --max-semi-space-size=1 before the bundle', async () => {
  const cli = join(process.cwd(), 'dist', 'gdrive-backup.mjs');
  const sandbox = await startSandboxChild(cli);
  try {
    await mkdir(join(root, 'data'), { mode: 0o700 });
    const service = await startServiceChild(cli, {
      sandboxEnv: sandbox.env,
      dataDir: join(root, 'data'),
      exchangeDir: root,
    });
    try {
      const args = (await readFile(`/proc/${service.pid}/cmdline`, 'utf8')).split('\0');
      expect(args.slice(1, 4)).toEqual(['--max-semi-space-size=1', cli, 'serve']);
    } finally {
      await service.stop();
    }
  } finally {
    await sandbox.stop();
  }
});
