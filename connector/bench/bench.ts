/**
 * `gdrive-backup bench`: the speed and memory targets, measured side by side in one run on the
 * same data and the same sandbox, because on a shared, noisy machine only the ratios travel.
 *
 * Layout: the sandbox runs in its own child process (`gdrive-backup sandbox`), the connector
 * service in another (`gdrive-backup serve`, driven over its unix socket like the PHP hook),
 * and the raw-wire yardstick in this process with plain fetch. Scenarios:
 *   1/2  upload and download, connector vs raw wire, on localhost (best of --runs);
 *   3    the same on a shaped link (20 ms per answer, 400 Mbit/s per connection);
 *   4    chunk size sweep 8/16/32 MiB on the shaped link: MiB/s and the service's peak RSS;
 *   5    the service's RSS growth over idle while uploading a small and a large file: bounded by
 *        the chunk size, not by the file size;
 *   6    Drive requests per uploaded file (sandbox counters): p appendFile pieces = p + 2 requests
 *        (session start, one PUT per piece, the last). This one runs the sandbox in this
 *        process, the only place its counters can be read.
 * Not part of `npm test` (a smoke test runs it with --quick).
 */
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLESK_PIECE } from '../cli/transfer.js';
import { startSandbox } from '../sandbox/drive-sandbox.js';
import { CONNECTOR_VERSION } from '../version.js';
import {
  type SandboxChild,
  type SandboxEnv,
  type ServiceChild,
  startSandboxChild,
  startServiceChild,
} from './child-processes.js';
import { cpuSeconds, PeakMeter, rssMib } from './process-stats.js';
import { rawAccessToken, rawDownload, rawUpload } from './raw-wire.js';
import { type Cell, table, type Verdict, verdictLines } from './report.js';
import { connectAccount, serviceDownload, serviceUpload } from './service-transfers.js';
import { type Dataset, TestData } from './test-data.js';

const MIB = 1024 * 1024;
const DEFAULT_CHUNK = 16 * MIB;
const SWEEP_CHUNKS = [8 * MIB, 16 * MIB, 32 * MIB];
const SHAPED = { latencyMs: 20, bandwidthMbit: 400 };
/** What the memory target allows beyond two chunk buffers: node's own heap churn and sockets. */
const MEMORY_CONSTANT_MIB = 64;

export interface BenchOptions {
  /** The large file of the memory scenario in MiB (default 512); the others derive from it. */
  sizeMib?: number;
  /** Small sizes, one run each: for the smoke test, figures mean little. */
  quick?: boolean;
  /** Best of how many runs on localhost (default 2, quick 1). */
  runs?: number;
  /** Writes every figure as JSON here. */
  jsonFile?: string;
  /** The gdrive-backup bundle the children run (default: the one running now). */
  cliPath?: string;
  out?: NodeJS.WritableStream;
}

/** One side-by-side measurement: connector vs raw wire. */
export interface PairFigures {
  bytes: number;
  connectorMiBs: number;
  rawMiBs: number;
  /** connector / raw. */
  ratio: number;
  /** The service's CPU seconds over the connector's transfer. */
  serviceCpuSeconds: number | null;
  servicePeakRssMib: number | null;
}

export interface SweepRow {
  chunkMib: number;
  MiBs: number;
  idleRssMib: number | null;
  peakRssMib: number | null;
}

export interface MemoryRow {
  sizeMib: number;
  idleRssMib: number | null;
  peakRssMib: number | null;
  growthMib: number | null;
}

export interface BenchResult {
  version: string;
  quick: boolean;
  startedAt: string;
  seconds: number;
  upload: PairFigures;
  download: PairFigures;
  shaped: { latencyMs: number; bandwidthMbit: number; upload: PairFigures; download: PairFigures };
  chunkSweep: SweepRow[];
  memory: { chunkMib: number; boundMib: number; runs: MemoryRow[] };
  requests: {
    chunkMib: number;
    sizeMib: number;
    pieces: number;
    expected: number;
    actual: number;
    byKind: Record<string, number>;
  };
  verdicts: Verdict[];
}

const mibs = (bytes: number, ms: number) => bytes / MIB / (Math.max(ms, 1) / 1000);
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const orNull = (n: number | null, digits = 1) => (n === null ? null : round(n, digits));

/** Times `fn` while watching the service's CPU and peak RSS. */
async function watched<T>(
  service: ServiceChild,
  fn: () => Promise<T>,
): Promise<{ value: T; cpu: number | null; peak: number | null }> {
  const cpuBefore = cpuSeconds(service.pid);
  const meter = new PeakMeter(service.pid);
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    meter.stop();
    throw error;
  }
  const peak = meter.stop();
  const cpuAfter = cpuSeconds(service.pid);
  return { value, cpu: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore, peak };
}

/** Where the raw side sends its requests. */
interface Link {
  env: SandboxEnv;
  token: string;
}

interface Best {
  rawMs: number;
  connectorMs: number;
  cpu: number | null;
  peak: number | null;
}

function pairFigures(bytes: number, best: Best): PairFigures {
  const connectorMiBs = mibs(bytes, best.connectorMs);
  const rawMiBs = mibs(bytes, best.rawMs);
  return {
    bytes,
    connectorMiBs: round(connectorMiBs, 1),
    rawMiBs: round(rawMiBs, 1),
    ratio: round(connectorMiBs / rawMiBs),
    serviceCpuSeconds: orNull(best.cpu, 2),
    servicePeakRssMib: orNull(best.peak),
  };
}

/**
 * Upload then download of `transfer`, raw wire and connector alternating, best time of `runs`
 * for each side. The connector's md5 must equal the one Drive computed for the raw upload.
 */
async function measurePair(
  link: Link,
  service: ServiceChild,
  transfer: Dataset,
  reads: string,
  label: string,
  runs: number,
): Promise<{ upload: PairFigures; download: PairFigures }> {
  const up: Best = { rawMs: Infinity, connectorMs: Infinity, cpu: null, peak: null };
  const down: Best = { ...up };
  let rawId = '';
  let connectorPath = '';
  for (let r = 0; r < runs; r++) {
    const raw = await rawUpload(link.env, link.token, transfer, DEFAULT_CHUNK, `raw-${label}-${r}.bin`);
    rawId = raw.id;
    connectorPath = `/${label}-${r}.bin`;
    const path = connectorPath;
    const connector = await watched(service, () => serviceUpload(service.client, transfer, path));
    if (connector.value.md5 !== raw.md5)
      throw new Error(
        `the connector's md5 ${connector.value.md5} differs from Drive's ${raw.md5} for the same bytes`,
      );
    up.rawMs = Math.min(up.rawMs, raw.ms);
    if (connector.value.ms < up.connectorMs)
      Object.assign(up, { connectorMs: connector.value.ms, cpu: connector.cpu, peak: connector.peak });
  }
  for (let r = 0; r < runs; r++) {
    const rawFile = join(reads, 'raw.bin');
    const raw = await rawDownload(link.env, link.token, rawId, rawFile);
    await unlink(rawFile);
    if (raw.bytes !== transfer.size)
      throw new Error(`raw download got ${raw.bytes} of ${transfer.size} bytes`);
    const connector = await watched(service, () =>
      serviceDownload(service.client, connectorPath, reads, transfer.pieceSize),
    );
    if (connector.value.bytes !== transfer.size)
      throw new Error(`the connector read ${connector.value.bytes} of ${transfer.size} bytes`);
    down.rawMs = Math.min(down.rawMs, raw.ms);
    if (connector.value.ms < down.connectorMs)
      Object.assign(down, { connectorMs: connector.value.ms, cpu: connector.cpu, peak: connector.peak });
  }
  return { upload: pairFigures(transfer.size, up), download: pairFigures(transfer.size, down) };
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const out = options.out ?? process.stdout;
  const quick = options.quick ?? false;
  const sizeMib = options.sizeMib ?? 512;
  const runs = options.runs ?? (quick ? 1 : 2);
  const cliPath = options.cliPath ?? process.argv[1]!;
  const pieceSize = quick ? 2 * MIB : PLESK_PIECE;
  // Throughput runs use half the memory scenario's size: long enough to reach steady state.
  const transferBytes = Math.max(MIB, Math.round(sizeMib / 2) * MIB);
  const memorySizes = [Math.max(MIB, Math.round(sizeMib / 4) * MIB), Math.max(2 * MIB, sizeMib * MIB)];
  // A piece and a quarter, with the chunk size (an upper bound per request) at the piece size.
  const requestChunk = pieceSize;
  const requestBytes = Math.round(pieceSize * 1.25);
  const startedAt = new Date();
  const say = (text: string) => out.write(`${text}\n`);

  const work = await mkdtemp(join(tmpdir(), 'gdrive-bench-'));
  const dataDir = (name: string) => join(work, name);
  const reads = join(work, 'reads');
  const children: Array<SandboxChild | ServiceChild> = [];
  const track = <T extends SandboxChild | ServiceChild>(child: T): T => {
    children.push(child);
    return child;
  };
  const data = new TestData(join(work, 'data'), pieceSize);
  const connected = new Set<string>();
  /** A service on `dir` (one data dir per sandbox), connected, warmed up by a 1 MiB upload. */
  const serviceOn = async (sandboxEnv: SandboxEnv, dir: string, chunk: number) => {
    const service = track(
      await startServiceChild(cliPath, {
        sandboxEnv,
        dataDir: dir,
        chunkSize: chunk,
        exchangeDir: work,
      }),
    );
    if (!connected.has(dir)) {
      await connectAccount(service.client);
      connected.add(dir);
    }
    await serviceUpload(service.client, await data.dataset(MIB), `/warm-${chunk}.bin`);
    return service;
  };
  const stop = async (child: SandboxChild | ServiceChild) => {
    children.splice(children.indexOf(child), 1);
    await child.stop();
  };

  try {
    await mkdir(join(work, 'data'));
    await mkdir(reads);
    say(
      `gdrive-backup bench ${CONNECTOR_VERSION}${quick ? ' (quick: small sizes, figures only prove it runs)' : ''}`,
    );
    say(
      `transfers of ${transferBytes / MIB} MiB in appendFile/readFile pieces of ${pieceSize / MIB} MiB; ` +
        `best of ${runs} throughout; service and sandbox in their own processes`,
    );
    const warmData = await data.dataset(MIB);
    const transfer = await data.dataset(transferBytes);
    for (const size of memorySizes) await data.dataset(size);
    const requestData = await data.dataset(requestBytes);
    say('');

    // --- 1 + 2: localhost
    const local = track(await startSandboxChild(cliPath));
    const localToken = await rawAccessToken(local.env);
    await rawUpload(local.env, localToken, warmData, DEFAULT_CHUNK, 'warm-raw.bin');
    let service = await serviceOn(local.env, dataDir('local'), DEFAULT_CHUNK);
    const localLink = { env: local.env, token: localToken };
    const localPair = await measurePair(localLink, service, transfer, reads, 'local', runs);
    const pairRows = (p: { upload: PairFigures; download: PairFigures }): Cell[][] =>
      (['upload', 'download'] as const).map((way) => [
        way,
        p[way].connectorMiBs,
        p[way].rawMiBs,
        p[way].ratio,
        p[way].serviceCpuSeconds,
        p[way].servicePeakRssMib,
      ]);
    const pairHeaders = [
      '',
      'connector MiB/s',
      'raw wire MiB/s',
      'ratio',
      'service CPU s',
      'service peak RSS MiB',
    ];
    say(
      table(
        `1+2. localhost, ${transferBytes / MIB} MiB (chunk 16 MiB), best of ${runs}`,
        pairHeaders,
        pairRows(localPair),
      ),
    );
    await stop(service);

    // --- 3 + 4: shaped link
    const shaped = track(await startSandboxChild(cliPath, SHAPED));
    const shapedToken = await rawAccessToken(shaped.env);
    await rawUpload(shaped.env, shapedToken, warmData, DEFAULT_CHUNK, 'warm-raw.bin');
    const sweep: SweepRow[] = [];
    let shapedPair: { upload: PairFigures; download: PairFigures } | undefined;
    for (const chunk of SWEEP_CHUNKS) {
      // A fresh service per chunk size, measured before anything else runs in it.
      service = await serviceOn(shaped.env, dataDir('shaped'), chunk);
      const idle = rssMib(service.pid);
      let bestMs = Infinity;
      let peak: number | null = null;
      for (let r = 0; r < runs; r++) {
        const current = service;
        const run = await watched(current, () =>
          serviceUpload(current.client, transfer, `/sweep-${chunk / MIB}-${r}.bin`),
        );
        bestMs = Math.min(bestMs, run.value.ms);
        if (run.peak !== null) peak = Math.max(peak ?? 0, run.peak);
      }
      sweep.push({
        chunkMib: chunk / MIB,
        MiBs: round(mibs(transfer.size, bestMs), 1),
        idleRssMib: orNull(idle),
        peakRssMib: orNull(peak),
      });
      if (chunk === DEFAULT_CHUNK)
        shapedPair = await measurePair(
          { env: shaped.env, token: shapedToken },
          service,
          transfer,
          reads,
          'shaped',
          runs,
        );
      await stop(service);
    }
    await stop(shaped);
    say(
      table(
        `3. shaped link (${SHAPED.latencyMs} ms per answer, ${SHAPED.bandwidthMbit} Mbit/s per connection), ${transferBytes / MIB} MiB, best of ${runs}`,
        pairHeaders,
        pairRows(shapedPair!),
      ),
    );
    say(
      table(
        `4. chunk size sweep on the shaped link, upload of ${transferBytes / MIB} MiB (best of ${runs}; peak: the highest)`,
        ['chunk MiB', 'MiB/s', 'PUTs', 'service idle RSS MiB', 'service peak RSS MiB'],
        sweep.map((row) => [
          row.chunkMib,
          row.MiBs,
          Math.ceil(transfer.size / (row.chunkMib * MIB)),
          row.idleRssMib,
          row.peakRssMib,
        ]),
      ),
    );

    // --- 5: memory, fresh service per size so neither inherits the other's heap
    const memoryRuns: MemoryRow[] = [];
    for (const size of memorySizes) {
      service = await serviceOn(local.env, dataDir('local'), DEFAULT_CHUNK);
      const dataset = await data.dataset(size);
      const idle = rssMib(service.pid);
      const { peak } = await watched(service, () =>
        serviceUpload(service.client, dataset, `/memory-${size / MIB}.bin`),
      );
      memoryRuns.push({
        sizeMib: size / MIB,
        idleRssMib: orNull(idle),
        peakRssMib: orNull(peak),
        growthMib: idle === null || peak === null ? null : round(peak - idle, 1),
      });
      await stop(service);
    }
    await stop(local);
    const boundMib = (2 * DEFAULT_CHUNK) / MIB + MEMORY_CONSTANT_MIB;
    say(
      table(
        `5. service memory while uploading (chunk 16 MiB; bound 2 x chunk + ${MEMORY_CONSTANT_MIB} MiB = ${boundMib} MiB)`,
        ['file MiB', 'idle RSS MiB', 'peak RSS MiB', 'growth MiB'],
        memoryRuns.map((row) => [row.sizeMib, row.idleRssMib, row.peakRssMib, row.growthMib]),
      ),
    );

    // --- 6: requests per file, counted by an in-process sandbox
    const counting = await startSandbox({});
    let byKind: Record<string, number>;
    try {
      service = await serviceOn(counting.env, dataDir('requests'), requestChunk);
      try {
        counting.resetCounters();
        await serviceUpload(service.client, requestData, '/requests.bin');
        byKind = Object.fromEntries(Object.entries(counting.counters()).filter(([, n]) => n > 0));
      } finally {
        await stop(service);
      }
    } finally {
      await counting.close();
    }
    const pieces = requestData.pieces.length;
    const uploadKinds = ['upload.start', 'upload.chunk', 'upload.status', 'upload.multipart'];
    const actual = uploadKinds.reduce((sum, kind) => sum + (byKind[kind] ?? 0), 0);
    say(
      table(
        `6. Drive requests for one file of ${round(requestBytes / MIB)} MiB in ${pieceSize / MIB} MiB appendFile pieces (sandbox counters)`,
        ['pieces', 'expected upload requests (p + 2)', 'actual', 'all requests of openFileWrite..closeFile'],
        [
          [
            pieces,
            pieces + 2,
            actual,
            Object.entries(byKind)
              .map(([kind, n]) => `${kind} ${n}`)
              .join(', '),
          ],
        ],
      ),
    );

    // --- verdicts
    const best = sweep.reduce((a, b) => (b.MiBs > a.MiBs ? b : a));
    const atDefault = sweep.find((row) => row.chunkMib === DEFAULT_CHUNK / MIB)!;
    const growths = memoryRuns.map((row) => row.growthMib);
    const verdicts: Verdict[] = [
      {
        target: 'upload on localhost: connector / raw >= 0.8',
        measured: `${localPair.upload.ratio}`,
        ok: localPair.upload.ratio >= 0.8,
      },
      {
        target: "download on localhost: connector / raw >= 0.8 (the upload's bar)",
        measured: `${localPair.download.ratio}`,
        ok: localPair.download.ratio >= 0.8,
      },
      {
        target: 'upload on the shaped link: connector / raw >= 0.9',
        measured: `${shapedPair!.upload.ratio}`,
        ok: shapedPair!.upload.ratio >= 0.9,
      },
      {
        target: 'download on the shaped link: connector / raw >= 0.9',
        measured: `${shapedPair!.download.ratio}`,
        ok: shapedPair!.download.ratio >= 0.9,
      },
      {
        target: 'default chunk 16 MiB: >= 0.9 x the best of the sweep',
        measured: `${atDefault.MiBs} vs ${best.MiBs} MiB/s (${best.chunkMib} MiB)`,
        ok: atDefault.MiBs >= 0.9 * best.MiBs,
      },
      {
        target: `memory growth <= ${boundMib} MiB at every file size`,
        measured: memoryRuns.map((row) => `${row.sizeMib} MiB: ${row.growthMib ?? 'n/a'}`).join(', '),
        ok: growths.every((g) => g !== null && g <= boundMib),
      },
      {
        target: 'memory growth independent of file size (within 1 chunk)',
        measured: growths.every((g) => g !== null)
          ? `difference ${round(Math.abs(growths[1]! - growths[0]!), 1)} MiB`
          : 'n/a (no /proc)',
        ok: growths.every((g) => g !== null) && Math.abs(growths[1]! - growths[0]!) <= DEFAULT_CHUNK / MIB,
      },
      {
        target: 'upload requests per file = pieces + 2',
        measured: `${actual} for ${pieces} pieces`,
        ok: actual === pieces + 2,
      },
    ];
    say('Verdicts');
    say(verdictLines(verdicts));
    const result: BenchResult = {
      version: CONNECTOR_VERSION,
      quick,
      startedAt: startedAt.toISOString(),
      seconds: round((Date.now() - startedAt.getTime()) / 1000, 1),
      upload: localPair.upload,
      download: localPair.download,
      shaped: { ...SHAPED, ...shapedPair! },
      chunkSweep: sweep,
      memory: { chunkMib: DEFAULT_CHUNK / MIB, boundMib, runs: memoryRuns },
      requests: {
        chunkMib: requestChunk / MIB,
        sizeMib: round(requestBytes / MIB),
        pieces,
        expected: pieces + 2,
        actual,
        byKind,
      },
      verdicts,
    };
    say(`\n${result.seconds} s in all${options.jsonFile ? `; figures in ${options.jsonFile}` : ''}`);
    if (options.jsonFile) await writeFile(options.jsonFile, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    for (const child of children.reverse()) await child.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}
