/**
 * `gdrive-backup bench`: the connector held against rclone (Debian's package, the best-known
 * Drive client) on the same sandbox, measured side by side in one run, because on a shared,
 * noisy machine only ratios measured together travel.
 *
 * Layout: the sandbox runs in a child process (`gdrive-backup sandbox --public-url
 * https://www.googleapis.com/`), behind the TLS-terminating proxy of `tls-proxy.ts` in this
 * process. rclone cannot be pointed anywhere but Google's hosts, so it goes through the proxy;
 * the connector goes through the same proxy (HTTPS_PROXY, NODE_EXTRA_CA_CERTS), so both pay the
 * same TLS and the same hop. Contenders, alternating within each run (the order rotates), medians:
 *   service      the connector service driven over its unix socket as the PHP hook drives it
 *                (appendFile / readFile pieces of 100 MiB); this is what Plesk uses, the verdicts
 *                hold it against rclone;
 *   cli          `gdrive-backup put` / `get` in-process (a second figure, not a target);
 *   rclone       `rclone copyto` at its defaults and with --drive-chunk-size 64M (upload), with
 *                --multi-thread-streams 4 and 1 (download).
 * Links: plain loopback; shaped (20 ms per answer, 400 Mbit/s per connection); Drive-like (the
 * shaped link plus 150 ms of server time per upload request, what real Drive spends per chunk).
 * Then: the service's peak RSS over a 1 GiB and a 4 GiB backup; a restore with Plesk-like work
 * between pieces; one appendFile round trip from PHP (curl over the socket); the package size;
 * Drive requests per uploaded file (sandbox counters).
 * Not part of `npm test` (a smoke test runs it with --quick).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PLESK_PIECE } from '../cli/transfer.js';
import { startSandbox } from '../sandbox/drive-sandbox.js';
import { readApiToken } from '../service/api-token.js';
import { CONNECTOR_VERSION } from '../version.js';
import {
  type ChildRun,
  measureCli,
  type SandboxChild,
  type SandboxChildOptions,
  type SandboxEnv,
  type ServiceChild,
  startSandboxChild,
  startServiceChild,
} from './child-processes.js';
import { measurePhpAppend, type PhpAppendFigures } from './php-append.js';
import { cpuSeconds, PeakMeter, rssMib } from './process-stats.js';
import { findRclone, Rclone } from './rclone.js';
import { type Cell, table, type Verdict, verdictLines } from './report.js';
import { sandboxTokens } from './sandbox-tokens.js';
import { connectAccount, serviceDownload, serviceUpload } from './service-transfers.js';
import { type Dataset, TestData } from './test-data.js';
import { startTlsProxy, type TlsProxy } from './tls-proxy.js';

const MIB = 1024 * 1024;
const GOOGLE_API = 'https://www.googleapis.com/';

interface LinkSpec extends SandboxChildOptions {
  name: 'plain' | 'shaped' | 'drive-like';
  label: string;
}

const LINKS: LinkSpec[] = [
  { name: 'plain', label: 'plain loopback' },
  {
    name: 'shaped',
    label: 'shaped: 20 ms per answer, 400 Mbit/s per connection',
    latencyMs: 20,
    bandwidthMbit: 400,
  },
  {
    name: 'drive-like',
    label: 'Drive-like: shaped + 150 ms server time per upload request',
    latencyMs: 20,
    bandwidthMbit: 400,
    uploadRequestMs: 150,
  },
];

/** Plesk's work on each restored piece: 0.5 s per 100 MB (unpacking, writing files). */
const WORK_SECONDS_PER_100MB = 0.5;

const UPLOADERS = ['service', 'cli', 'rclone', 'rclone --drive-chunk-size 64M'] as const;
const DOWNLOADERS = [
  'service',
  'cli',
  'rclone --multi-thread-streams 4',
  'rclone --multi-thread-streams 1',
] as const;
type Contender = (typeof UPLOADERS)[number] | (typeof DOWNLOADERS)[number];

export interface BenchOptions {
  /** The throughput file in MiB (default 512). */
  sizeMib?: number;
  /** The large backup of the memory scenario in MiB (default 4096). */
  memoryMib?: number;
  /** Small sizes, one run: for the smoke test, figures mean little. */
  quick?: boolean;
  /** Runs per contender, medians taken (default 3, quick 1). */
  runs?: number;
  /** Writes every figure as JSON here. */
  jsonFile?: string;
  /** The gdrive-backup bundle the children run (default: the one running now). */
  cliPath?: string;
  /** The extension package to weigh (default: dist/gdrive-backup-<version>.zip beside the bundle). */
  packageFile?: string;
  out?: NodeJS.WritableStream;
}

/** Medians of one contender's runs in one cell. */
export interface ContenderFigures {
  MiBs: number;
  cpuSecondsPerGiB: number | null;
  peakRssMib: number | null;
}

export interface LinkFigures {
  link: LinkSpec['name'];
  label: string;
  upload: Partial<Record<Contender, ContenderFigures>>;
  download: Partial<Record<Contender, ContenderFigures>>;
  /** service / rclone's best setting; null without rclone. */
  uploadRatio: number | null;
  downloadRatio: number | null;
}

export interface BenchResult {
  version: string;
  quick: boolean;
  startedAt: string;
  seconds: number;
  machine: { cpus: number; model: string; node: string; rclone: string | null };
  sizeMib: number;
  pieceMib: number;
  runs: number;
  links: LinkFigures[];
  cpu: { uploadRatio: number | null; downloadRatio: number | null };
  memory: { sizeMib: number; idleRssMib: number | null; peakRssMib: number | null }[];
  restore: { downloadSeconds: number; workSeconds: number; withWorkSeconds: number; ratio: number };
  phpAppend: PhpAppendFigures | null;
  packageMib: number | null;
  requests: {
    pieces: number;
    starts: number;
    expected: number;
    actual: number;
    byKind: Record<string, number>;
  };
  verdicts: Verdict[];
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const orNull = (n: number | null, digits = 2) => (n === null ? null : round(n, digits));
const mibs = (bytes: number, ms: number) => bytes / MIB / (Math.max(ms, 1) / 1000);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function figures(bytes: number, runs: ChildRun[]): ContenderFigures {
  const cpu = runs.map((r) => r.cpuSeconds).filter((c): c is number => c !== null);
  const peaks = runs.map((r) => r.peakRssMib).filter((p): p is number => p !== null);
  return {
    MiBs: round(mibs(bytes, median(runs.map((r) => r.ms))), 1),
    cpuSecondsPerGiB: cpu.length ? round((median(cpu) * 1024 * MIB) / bytes) : null,
    peakRssMib: peaks.length ? round(Math.max(...peaks), 1) : null,
  };
}

/** Times `fn` while watching a long-running child's CPU and peak RSS. */
async function watched(pid: number, fn: () => Promise<unknown>): Promise<ChildRun> {
  const cpuBefore = cpuSeconds(pid);
  const meter = new PeakMeter(pid);
  const started = performance.now();
  try {
    await fn();
  } finally {
    meter.stop();
  }
  const ms = performance.now() - started;
  const cpuAfter = cpuSeconds(pid);
  return {
    ms,
    cpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
    peakRssMib: meter.stop(),
  };
}

/** The concatenation of a dataset's pieces in one file (what `put` and rclone upload). */
async function wholeFile(dataset: Dataset, path: string): Promise<string> {
  const pieces = async function* () {
    for (const piece of dataset.pieces) yield* createReadStream(piece);
  };
  await pipeline(pieces, createWriteStream(path, { mode: 0o600 }));
  return path;
}

async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The environment that sends a connector child's Drive calls through the proxy, as rclone's go. */
function throughProxy(sandbox: SandboxEnv, proxy: TlsProxy): Record<string, string> {
  return {
    ...sandbox,
    GDRIVE_API_ROOT: GOOGLE_API,
    HTTPS_PROXY: proxy.url,
    // The OAuth endpoints stay the sandbox's own loopback URLs: only Drive traffic is measured.
    NO_PROXY: '127.0.0.1,localhost',
    NODE_EXTRA_CA_CERTS: proxy.caFile,
  };
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const out = options.out ?? process.stdout;
  const quick = options.quick ?? false;
  const sizeMib = options.sizeMib ?? (quick ? 8 : 512);
  const memoryMib = options.memoryMib ?? (quick ? 16 : 4096);
  const runs = options.runs ?? (quick ? 1 : 3);
  const cliPath = options.cliPath ?? process.argv[1]!;
  const pieceSize = quick ? 2 * MIB : PLESK_PIECE;
  const bytes = sizeMib * MIB;
  const startedAt = new Date();
  const say = (text: string) => out.write(`${text}\n`);
  const rcloneFound = findRclone();

  const work = await mkdtemp(join(tmpdir(), 'gdrive-bench-'));
  const reads = join(work, 'reads');
  const children: Array<SandboxChild | ServiceChild> = [];
  const proxies: TlsProxy[] = [];
  const stop = async (child: SandboxChild | ServiceChild) => {
    children.splice(children.indexOf(child), 1);
    await child.stop();
  };
  const service = async (sandboxEnv: Record<string, string>, name: string, connect = true) => {
    const child = await startServiceChild(cliPath, {
      sandboxEnv,
      dataDir: join(work, name),
      exchangeDir: work,
    });
    children.push(child);
    if (connect) await connectAccount(child.client);
    return child;
  };

  try {
    await mkdir(join(work, 'data'));
    await mkdir(reads);
    const data = new TestData(join(work, 'data'), pieceSize);
    const transfer = await data.dataset(bytes);
    const whole = await wholeFile(transfer, join(work, 'whole.bin'));
    const wholeMd5 = await md5File(whole);
    say(
      `gdrive-backup bench ${CONNECTOR_VERSION}${quick ? ' (quick: small sizes, figures only prove it runs)' : ''}`,
    );
    say(
      `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, ` +
        `${rcloneFound ? rcloneFound.version : 'rclone not installed: no yardstick, ratios n/a'}`,
    );
    say(
      `${sizeMib} MiB per transfer, appendFile/readFile pieces of ${pieceSize / MIB} MiB, median of ${runs} ` +
        'alternating runs; everything through one local TLS proxy\n',
    );

    const links: LinkFigures[] = [];
    let restore: BenchResult['restore'] | undefined;
    let phpAppend: PhpAppendFigures | null = null;
    for (const link of LINKS) {
      const sandbox = await startSandboxChild(cliPath, { ...link, publicUrl: GOOGLE_API });
      children.push(sandbox);
      const proxy = await startTlsProxy({ target: sandbox.env.GDRIVE_API_ROOT! });
      proxies.push(proxy);
      const env = throughProxy(sandbox.env, proxy);
      const svc = await service(env, `service-${link.name}`);
      // The CLI works in-process on its own data dir, connected once through a short-lived service.
      const cliDir = join(work, `cli-${link.name}`);
      await stop(await service(env, `cli-${link.name}`));
      const cliEnv = { ...env, GDRIVE_BACKUP_DATA_DIR: cliDir, GDRIVE_EXCHANGE_DIRS: work };
      const rclone = rcloneFound
        ? new Rclone({
            sandboxEnv: sandbox.env,
            // Scope drive, as rclone's remote asks (rcloneDriveEnv).
            refreshToken: (await sandboxTokens(sandbox.env, 'https://www.googleapis.com/auth/drive'))
              .refreshToken,
            proxy,
            home: await mkdtemp(join(work, 'rclone-')),
          })
        : undefined;

      const ups = new Map<Contender, ChildRun[]>();
      const downs = new Map<Contender, ChildRun[]>();
      const record = (map: Map<Contender, ChildRun[]>, who: Contender, run: ChildRun) =>
        map.set(who, [...(map.get(who) ?? []), run]);
      const upload = async (who: (typeof UPLOADERS)[number], r: number): Promise<ChildRun> => {
        const remote = `up-${UPLOADERS.indexOf(who)}-${r}.bin`;
        if (who === 'service')
          return watched(svc.pid, async () => {
            const result = await serviceUpload(svc.client, transfer, `/${remote}`);
            if (result.md5 !== wholeMd5)
              throw new Error(`the service stored md5 ${result.md5}, not ${wholeMd5}`);
          });
        if (who === 'cli') return measureCli(cliPath, ['put', whole, `/${remote}`], cliEnv);
        const flags = who === 'rclone' ? [] : ['--drive-chunk-size', '64M'];
        return rclone!.copyto(whole, `gd:bench/${remote}`, flags);
      };
      const download = async (who: (typeof DOWNLOADERS)[number], r: number): Promise<ChildRun> => {
        const local = join(reads, `down-${r}.bin`);
        try {
          if (who === 'service')
            return await watched(svc.pid, () => serviceDownload(svc.client, '/up-0-0.bin', reads, pieceSize));
          if (who === 'cli') return await measureCli(cliPath, ['get', '/up-1-0.bin', local], cliEnv);
          const streams = who.endsWith('4') ? '4' : '1';
          return await rclone!.copyto('gd:bench/up-2-0.bin', local, [
            '--multi-thread-streams',
            streams,
            '--multi-thread-cutoff',
            '1M',
          ]);
        } finally {
          await unlink(local).catch(() => {});
        }
      };
      const contenders = <T extends Contender>(all: readonly T[]) =>
        all.filter((who) => rclone || !who.startsWith('rclone'));
      for (let r = 0; r < runs; r++) {
        const order = contenders(UPLOADERS);
        for (let i = 0; i < order.length; i++) {
          const who = order[(i + r) % order.length]!;
          record(ups, who, await upload(who, r));
        }
      }
      for (let r = 0; r < runs; r++) {
        const order = contenders(DOWNLOADERS);
        for (let i = 0; i < order.length; i++) {
          const who = order[(i + r) % order.length]!;
          record(downs, who, await download(who, r));
        }
      }
      const up = Object.fromEntries([...ups].map(([who, list]) => [who, figures(bytes, list)]));
      const down = Object.fromEntries([...downs].map(([who, list]) => [who, figures(bytes, list)]));
      const ratio = (cell: Partial<Record<Contender, ContenderFigures>>, rivals: readonly Contender[]) => {
        const best = Math.max(0, ...rivals.map((who) => cell[who]?.MiBs ?? 0));
        return best > 0 ? round(cell.service!.MiBs / best) : null;
      };
      const figuresOfLink: LinkFigures = {
        link: link.name,
        label: link.label,
        upload: up,
        download: down,
        uploadRatio: ratio(up, UPLOADERS.slice(2)),
        downloadRatio: ratio(down, DOWNLOADERS.slice(2)),
      };
      links.push(figuresOfLink);
      say(linkTable(figuresOfLink, runs));

      if (link.name === 'plain') {
        const token = (await readApiToken(svc.dataDir))!;
        phpAppend = await measurePhpAppend(
          join(svc.dataDir, 'connector.sock'),
          token,
          'server',
          work,
          quick ? 20 : 200,
        );
      }
      if (link.name === 'shaped') {
        // The same restore as the service's download above, with Plesk's work after each piece.
        const workPerPiece = (WORK_SECONDS_PER_100MB * pieceSize) / 100e6 / (quick ? 10 : 1);
        const started = performance.now();
        await serviceDownload(svc.client, '/up-0-0.bin', reads, pieceSize, () => sleep(workPerPiece * 1000));
        const withWork = (performance.now() - started) / 1000;
        const downloadSeconds = bytes / MIB / down.service!.MiBs;
        const workSeconds = workPerPiece * Math.ceil(bytes / pieceSize);
        restore = {
          downloadSeconds: round(downloadSeconds),
          workSeconds: round(workSeconds),
          withWorkSeconds: round(withWork),
          ratio: round(withWork / Math.max(downloadSeconds, workSeconds)),
        };
      }
      await stop(svc);
      await proxy.close();
      proxies.splice(proxies.indexOf(proxy), 1);
      await stop(sandbox);
    }

    // --- memory: fresh service per size, one piece appended over and over (Plesk's pieces differ,
    // the connector's memory does not depend on their bytes)
    const memory: BenchResult['memory'] = [];
    const memorySandbox = await startSandboxChild(cliPath);
    children.push(memorySandbox);
    const piece = transfer.pieces[0]!;
    const pieceBytes = (await stat(piece)).size;
    for (const sizeMib of [Math.round(memoryMib / 4), memoryMib]) {
      const count = Math.max(1, Math.round((sizeMib * MIB) / pieceBytes));
      const repeated: Dataset = {
        size: count * pieceBytes,
        pieceSize: pieceBytes,
        pieces: Array(count).fill(piece),
      };
      const svc = await service(memorySandbox.env, `memory-${sizeMib}`);
      const idle = rssMib(svc.pid);
      const run = await watched(svc.pid, () => serviceUpload(svc.client, repeated, `/memory-${sizeMib}.bin`));
      memory.push({
        sizeMib: round(repeated.size / MIB, 0),
        idleRssMib: orNull(idle, 1),
        peakRssMib: orNull(run.peakRssMib, 1),
      });
      await stop(svc);
    }
    await stop(memorySandbox);
    say(
      table(
        'Service memory over one backup (fresh service per size, pieces appended one after another)',
        ['backup MiB', 'idle RSS MiB', 'peak RSS MiB'],
        memory.map((row) => [row.sizeMib, row.idleRssMib, row.peakRssMib]),
      ),
    );

    // --- requests per file, counted by an in-process sandbox
    const counting = await startSandbox({});
    let requests: BenchResult['requests'];
    try {
      const svc = await service(counting.env, 'requests');
      const pieces = await data.dataset(Math.round(pieceSize * 2.5));
      counting.resetCounters();
      await serviceUpload(svc.client, pieces, '/requests.bin');
      const byKind = Object.fromEntries(Object.entries(counting.counters()).filter(([, n]) => n > 0));
      await stop(svc);
      // One PUT per appendFile piece and the close's PUT with the rest and the total, after the
      // session's start: no status queries, no resends on a clean link.
      const putKinds = ['upload.chunk', 'upload.status'];
      requests = {
        pieces: pieces.pieces.length,
        starts: byKind['upload.start'] ?? 0,
        expected: pieces.pieces.length + 1,
        actual: putKinds.reduce((sum, kind) => sum + (byKind[kind] ?? 0), 0),
        byKind,
      };
    } finally {
      await counting.close();
    }

    const packageFile =
      options.packageFile ??
      join(dirname(dirname(cliPath)), 'dist', `gdrive-backup-${CONNECTOR_VERSION}.zip`);
    const packageMib = await stat(packageFile).then(
      (info) => round(info.size / MIB),
      () => null,
    );
    const uploadCpu = cpuRatio(links[0]!, 'upload', 'rclone');
    const downloadCpu = cpuRatio(links[0]!, 'download', 'rclone --multi-thread-streams 4');
    say(
      table(
        'Other figures',
        ['figure', 'value'],
        [
          ['CPU s/GiB, upload, service / rclone (plain link)', uploadCpu],
          ['CPU s/GiB, download, service / rclone 4 streams (plain link)', downloadCpu],
          [
            'restore with Plesk work (s): download alone, work alone, both',
            `${restore!.downloadSeconds}, ${restore!.workSeconds}, ${restore!.withWorkSeconds}`,
          ],
          [
            'appendFile of 1 byte from PHP (curl), p50 / p99 ms',
            phpAppend ? `${phpAppend.p50Ms} / ${phpAppend.p99Ms}` : null,
          ],
          ['package MiB', packageMib],
          [
            'upload PUTs for one file of 2.5 pieces (after 1 start)',
            `${requests.actual} (${requests.pieces} pieces + 1 = ${requests.expected}; starts ${requests.starts})`,
          ],
        ],
      ),
    );

    const verdicts = verdictsOf(
      links,
      { uploadCpu, downloadCpu },
      memory,
      restore!,
      phpAppend,
      packageMib,
      requests,
    );
    say('Verdicts');
    say(verdictLines(verdicts));
    const result: BenchResult = {
      version: CONNECTOR_VERSION,
      quick,
      startedAt: startedAt.toISOString(),
      seconds: round((Date.now() - startedAt.getTime()) / 1000, 1),
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        rclone: rcloneFound?.version ?? null,
      },
      sizeMib,
      pieceMib: pieceSize / MIB,
      runs,
      links,
      cpu: { uploadRatio: uploadCpu, downloadRatio: downloadCpu },
      memory,
      restore: restore!,
      phpAppend,
      packageMib,
      requests,
      verdicts,
    };
    say(`\n${result.seconds} s in all${options.jsonFile ? `; figures in ${options.jsonFile}` : ''}`);
    if (options.jsonFile) await writeFile(options.jsonFile, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    for (const proxy of proxies) await proxy.close().catch(() => {});
    for (const child of children.reverse()) await child.stop().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

/** CPU seconds per GiB of the service over the rival's, on one link and direction. */
function cpuRatio(link: LinkFigures, way: 'upload' | 'download', rival: Contender): number | null {
  const ours = link[way].service?.cpuSecondsPerGiB;
  const theirs = link[way][rival]?.cpuSecondsPerGiB;
  return ours == null || theirs == null || theirs === 0 ? null : round(ours / theirs);
}

function linkTable(link: LinkFigures, runs: number): string {
  const rows = (way: 'upload' | 'download'): Cell[][] =>
    Object.entries(link[way]).map(([who, f]) => [
      `${way} ${who}`,
      f!.MiBs,
      link[way].service && f!.MiBs ? round(link[way].service!.MiBs / f!.MiBs) : null,
      f!.cpuSecondsPerGiB,
      f!.peakRssMib,
    ]);
  return table(
    `${link.label} (median of ${runs})`,
    ['', 'MiB/s', 'service / this', 'CPU s/GiB', 'peak RSS MiB'],
    [...rows('upload'), ...rows('download')],
  );
}

/** Per-connection capacity of the shaped and Drive-like links: 400 Mbit/s. */
const LINK_CAPACITY_MIBS = (400 * 1e6) / 8 / MIB;

function verdictsOf(
  links: LinkFigures[],
  cpu: { uploadCpu: number | null; downloadCpu: number | null },
  memory: BenchResult['memory'],
  restore: BenchResult['restore'],
  php: PhpAppendFigures | null,
  packageMib: number | null,
  requests: BenchResult['requests'],
): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const link of links)
    for (const way of ['upload', 'download'] as const) {
      const ratio = way === 'upload' ? link.uploadRatio : link.downloadRatio;
      verdicts.push({
        target: `${way}, ${link.link}: service / rclone's best >= 1.0`,
        measured: ratio === null ? 'n/a (no rclone)' : `${ratio}`,
        ok: ratio !== null && ratio >= 1,
      });
    }
  const driveLike = links.find((l) => l.link === 'drive-like')?.upload.service?.MiBs ?? 0;
  verdicts.push({
    target: 'upload, drive-like: >= 0.85 of the link (400 Mbit/s)',
    measured: `${round(driveLike / LINK_CAPACITY_MIBS)} (${driveLike} of ${round(LINK_CAPACITY_MIBS, 1)} MiB/s)`,
    ok: driveLike >= 0.85 * LINK_CAPACITY_MIBS,
  });
  for (const [way, ratio] of [
    ['upload', cpu.uploadCpu],
    ['download', cpu.downloadCpu],
  ] as const)
    verdicts.push({
      target: `CPU per GiB, ${way}: service / rclone <= 1.25 (md5 and sha256 verified)`,
      measured: ratio === null ? 'n/a' : `${ratio}`,
      ok: ratio !== null && ratio <= 1.25,
    });
  const [small, large] = memory;
  verdicts.push({
    target: `peak RSS over a ${large?.sizeMib} MiB backup <= 100 MiB`,
    measured: `${large?.peakRssMib ?? 'n/a'} MiB`,
    ok: large?.peakRssMib != null && large.peakRssMib <= 100,
  });
  const growth =
    small?.peakRssMib != null && large?.peakRssMib != null
      ? round(large.peakRssMib - small.peakRssMib, 1)
      : null;
  verdicts.push({
    target: `no growth with size: peak at ${large?.sizeMib} MiB - peak at ${small?.sizeMib} MiB <= 8 MiB`,
    measured: growth === null ? 'n/a' : `${growth} MiB`,
    ok: growth !== null && growth <= 8,
  });
  verdicts.push({
    target: 'restore with Plesk work: <= 1.1 x max(download, work)',
    measured: `${restore.ratio}`,
    ok: restore.ratio <= 1.1,
  });
  verdicts.push({
    target: 'appendFile round trip from PHP, p50 <= 5 ms',
    measured: php ? `${php.p50Ms} ms (p99 ${php.p99Ms})` : 'n/a (no PHP with curl)',
    ok: php !== null && php.p50Ms <= 5,
  });
  verdicts.push({
    target: 'package <= 10 MiB',
    measured: packageMib === null ? 'n/a (run npm run package)' : `${packageMib} MiB`,
    ok: packageMib !== null && packageMib <= 10,
  });
  verdicts.push({
    target: 'upload PUTs per file = pieces + 1 (one session start before them)',
    measured: `${requests.actual} PUTs and ${requests.starts} start for ${requests.pieces} pieces`,
    ok: requests.actual === requests.expected && requests.starts === 1,
  });
  return verdicts;
}
