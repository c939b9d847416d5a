// CPU of the service for restores, the way Plesk drives it: the sandbox and the service in their
// own processes, a file uploaded once, then read back in 100 MiB readFile pieces over the socket,
// `runs` times; prints the service's CPU seconds (user + system, from /proc) per GiB read.
//
//   node scripts/build.mjs && npx esbuild scripts/profile-download.ts --bundle --platform=node \
//     --format=esm --outfile=dist/profile-download.mjs --log-level=warning \
//     --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
//   && node dist/profile-download.mjs [MiB=512] [runs=3]
//
// WORK_MS=500 waits that long after each piece, as Plesk unpacking it; READ_AHEAD_MAX=0 turns the
// service's read-ahead off (through its config file). TLS=1 sends the service's Drive calls
// through the bench's local TLS proxy (as `bench` measures it); LATENCY_MS and BANDWIDTH_MBIT
// shape the sandbox's link (the bench's shaped link is 20 ms, 400 Mbit/s per connection);
// STREAMS and RANGE_MIB set GDRIVE_DOWNLOAD_STREAMS / GDRIVE_DOWNLOAD_RANGE_SIZE.
// PROFILE_CLI, see below.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandboxChild, startServiceChild } from '../connector/bench/child-processes.js';
import { cpuSeconds } from '../connector/bench/process-stats.js';
import { BENCH_OBJECT, connectAccount, serviceUpload } from '../connector/bench/service-transfers.js';
import { TestData } from '../connector/bench/test-data.js';
import { startTlsProxy } from '../connector/bench/tls-proxy.js';

const MIB = 1024 * 1024;
const sizeMib = Number(process.argv[2] ?? 512);
const runs = Number(process.argv[3] ?? 3);
const cli = join(process.cwd(), 'dist', 'gdrive-backup.mjs');
const workMs = Number(process.env.WORK_MS ?? 0);

const dir = await mkdtemp(join(tmpdir(), 'gdrive-profile-'));
await mkdir(join(dir, 'data'), { mode: 0o700 });
if (process.env.READ_AHEAD_MAX !== undefined)
  await writeFile(
    join(dir, 'data', 'config.json'),
    JSON.stringify({ readAheadMax: Number(process.env.READ_AHEAD_MAX) }),
  );
const tls = process.env.TLS === '1';
const GOOGLE_API = 'https://www.googleapis.com/';
const sandbox = await startSandboxChild(cli, {
  ...(process.env.LATENCY_MS ? { latencyMs: Number(process.env.LATENCY_MS) } : {}),
  ...(process.env.BANDWIDTH_MBIT ? { bandwidthMbit: Number(process.env.BANDWIDTH_MBIT) } : {}),
  ...(tls ? { publicUrl: GOOGLE_API } : {}),
});
const proxy = tls ? await startTlsProxy({ target: sandbox.env.GDRIVE_API_ROOT! }) : undefined;
const sandboxEnv =
  proxy === undefined
    ? sandbox.env
    : {
        ...sandbox.env,
        GDRIVE_API_ROOT: GOOGLE_API,
        HTTPS_PROXY: proxy.url,
        NO_PROXY: '127.0.0.1,localhost',
        NODE_EXTRA_CA_CERTS: proxy.caFile,
      };
// PROFILE_CLI: a wrapper of the bundle to run the service with (e.g. one starting the profiler).
const service = await startServiceChild(process.env.PROFILE_CLI ?? cli, {
  sandboxEnv,
  dataDir: join(dir, 'data'),
  chunkSize: 16 * MIB,
  exchangeDir: dir,
  env: {
    ...(process.env.STREAMS ? { GDRIVE_DOWNLOAD_STREAMS: process.env.STREAMS } : {}),
    ...(process.env.RANGE_MIB
      ? { GDRIVE_DOWNLOAD_RANGE_SIZE: String(Number(process.env.RANGE_MIB) * MIB) }
      : {}),
  },
});
try {
  await connectAccount(service.client);
  const data = new TestData(dir, 100 * MIB);
  const dataset = await data.dataset(sizeMib * MIB);
  await serviceUpload(service.client, dataset, '/profile.bin');
  const perGiB: number[] = [];
  // A PROFILE_CLI wrapper may start its profiler on SIGUSR2 and write it on SIGUSR1.
  if (process.env.PROFILE_CLI) process.kill(service.pid, 'SIGUSR2');
  for (let run = 0; run < runs; run++) {
    const before = cpuSeconds(service.pid)!;
    const stat = () => readFileSync(`/proc/${service.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = stat();
    const started = performance.now();
    const fd = await service.client.openRead(BENCH_OBJECT, '/profile.bin', 0);
    let bytes = 0;
    for (let index = 0; ; index++) {
      const piece = join(dir, `read-${index}`);
      const got = await service.client.read(fd, piece, 100 * MIB);
      await unlink(piece);
      if (got === 0) break;
      bytes += got;
      if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
    }
    await service.client.closeRead(fd);
    const ms = performance.now() - started;
    const cpu = cpuSeconds(service.pid)! - before;
    const after = stat();
    // Fields 14 and 15 of /proc/PID/stat (utime, stime), in clock ticks (100 per second).
    const user = (Number(after[11]) - Number(ticks[11])) / 100;
    const system = (Number(after[12]) - Number(ticks[12])) / 100;
    perGiB.push(cpu / (bytes / 1024 / MIB));
    console.log(
      `run ${run + 1}: ${bytes / MIB} MiB in ${(ms / 1000).toFixed(2)} s (${(bytes / MIB / (ms / 1000)).toFixed(0)} MiB/s), service CPU ${cpu.toFixed(2)} s (user ${user.toFixed(2)}, system ${system.toFixed(2)}) = ${perGiB.at(-1)!.toFixed(2)} s/GiB`,
    );
  }
  if (process.env.PROFILE_CLI) process.kill(service.pid, 'SIGUSR1');
  perGiB.sort((a, b) => a - b);
  console.log(`median service CPU: ${perGiB[Math.floor(perGiB.length / 2)]!.toFixed(2)} s/GiB`);
} finally {
  await service.stop();
  await proxy?.close();
  await sandbox.stop();
  await rm(dir, { recursive: true, force: true });
}
