// RSS of the service over one backup, the way the bench's memory scenario drives it: a fresh
// sandbox and service in their own processes, one 100 MiB piece appended over and over through
// the socket; prints idle and peak RSS (sampled from /proc), upload MiB/s and CPU s/GiB.
//
//   node scripts/build.mjs && npx esbuild scripts/profile-memory.ts --bundle --platform=node \
//     --format=esm --outfile=dist/profile-memory.mjs --log-level=warning \
//     --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
//   && node dist/profile-memory.mjs [MiB=4096]
//
// SERVICE_NODE_OPTIONS is passed to the service as NODE_OPTIONS (e.g. a --require of a probe).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandboxChild, startServiceChild } from '../connector/bench/child-processes.js';
import { cpuSeconds, PeakMeter, rssMib } from '../connector/bench/process-stats.js';
import { connectAccount, serviceUpload } from '../connector/bench/service-transfers.js';
import { TestData } from '../connector/bench/test-data.js';

const MIB = 1024 * 1024;
const sizeMib = Number(process.argv[2] ?? 4096);
const cli = join(process.cwd(), 'dist', 'gdrive-backup.mjs');

const dir = await mkdtemp(join(tmpdir(), 'gdrive-memory-'));
await mkdir(join(dir, 'data'), { mode: 0o700 });
const sandbox = await startSandboxChild(cli);
const nodeOptions = process.env.SERVICE_NODE_OPTIONS;
const service = await startServiceChild(cli, {
  sandboxEnv: sandbox.env,
  dataDir: join(dir, 'data'),
  exchangeDir: dir,
  env: nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions },
});
try {
  const idleBefore = rssMib(service.pid);
  await connectAccount(service.client);
  const idle = rssMib(service.pid);
  const data = new TestData(dir, 100 * MIB);
  const piece = (await data.dataset(100 * MIB)).pieces[0]!;
  const count = Math.max(1, Math.round(sizeMib / 100));
  const dataset = { size: count * 100 * MIB, pieceSize: 100 * MIB, pieces: Array(count).fill(piece) };
  const cpuBefore = cpuSeconds(service.pid)!;
  const meter = new PeakMeter(service.pid);
  const result = await serviceUpload(service.client, dataset, '/memory.bin');
  const peak = meter.stop();
  const cpu = cpuSeconds(service.pid)! - cpuBefore;
  // PROBE_SIGNAL: a --require'd probe in SERVICE_NODE_OPTIONS reports its figures on SIGUSR2.
  if (process.env.PROBE_SIGNAL) {
    process.kill(service.pid, 'SIGUSR2');
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  console.log(
    `${dataset.size / MIB} MiB: idle RSS ${idleBefore?.toFixed(1)} (after connect ${idle?.toFixed(1)}) MiB, peak ${peak?.toFixed(1)} MiB, ` +
      `${(dataset.size / MIB / (result.ms / 1000)).toFixed(1)} MiB/s, CPU ${(cpu / (dataset.size / 1024 / MIB)).toFixed(2)} s/GiB`,
  );
} finally {
  await service.stop();
  await sandbox.stop();
  await rm(dir, { recursive: true, force: true });
}
