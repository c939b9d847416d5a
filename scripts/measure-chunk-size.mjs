// Measures the resumable upload at several chunk sizes against the sandbox, to choose
// config's default chunkSize by numbers: throughput and the engine's RSS growth.
//
//   node scripts/measure-chunk-size.mjs [--mib 128] [--chunks 8,16,32] [--latency 20] [--bandwidth 400]
//                                      [--commit-ms 150] [--runs 2]
//
// The sandbox runs in its own process (`gdrive-backup sandbox`), and every upload runs in a
// fresh child process, so the RSS growth printed is the upload engine's alone and no run
// inherits another's heap. The engine (connector/drive/*) is bundled on the fly with esbuild.
// Latency is added by the sandbox before every answer (Drive's per-request cost), bandwidth caps
// each connection. Not part of the test suite: it takes a minute or two.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const MIB = 1024 * 1024;
// Inside the project, so the bundle's external imports resolve from node_modules.
const ENGINE = join(process.cwd(), 'dist', 'measure-engine.mjs');

if (process.env.MEASURE_CHILD) await child(JSON.parse(process.env.MEASURE_CHILD));
else await main();

async function main() {
  const { values } = parseArgs({
    options: {
      mib: { type: 'string', default: '128' },
      chunks: { type: 'string', default: '8,16,32' },
      latency: { type: 'string', default: '0' },
      bandwidth: { type: 'string', default: '0' },
      piece: { type: 'string', default: String(10 * MIB + 1) },
      runs: { type: 'string', default: '2' },
      'commit-ms': { type: 'string', default: '0' },
    },
  });
  const totalBytes = Number(values.mib) * MIB;
  const pieceSize = Number(values.piece);
  const work = await mkdtemp(join(tmpdir(), 'measure-chunk-'));
  try {
    if (!existsSync('dist/gdrive-backup.mjs')) await run(process.execPath, ['scripts/build.mjs'], {});
    await build({
      stdin: {
        contents: [
          "export { TransferHandles } from './connector/drive/transfer-handles.ts';",
          "export { Pacer } from './connector/drive/retry.ts';",
          "export { loadConfig } from './connector/config/config.ts';",
          "export { silentLog } from './connector/log.ts';",
        ].join('\n'),
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outfile: ENGINE,
      logLevel: 'warning',
    });
    const piece = Buffer.allocUnsafe(pieceSize);
    for (let at = 0; at + 4 <= pieceSize; at += 4) piece.writeUInt32LE((at * 2654435761) >>> 0, at);
    const piecePath = join(work, 'piece');
    const lastPath = join(work, 'last');
    await writeFile(piecePath, piece);
    await writeFile(lastPath, piece.subarray(0, totalBytes % pieceSize));

    const args = ['bin/gdrive-backup.mjs', 'sandbox', '--dir', join(work, 'drive')];
    if (values.latency !== '0') args.push('--latency', values.latency);
    if (values.bandwidth !== '0') args.push('--bandwidth', values.bandwidth);
    const sandbox = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const env = await readyLines(sandbox);
      const refreshToken = await connect(env);
      console.log(
        `upload of ${values.mib} MiB in pieces of ${pieceSize} B; sandbox latency ${values.latency} ms, ` +
          `bandwidth ${values.bandwidth === '0' ? 'unlimited' : `${values.bandwidth} Mbit/s`}, ` +
          `${values['commit-ms']} ms per chunk after its body; best of ${values.runs}`,
      );
      console.log('chunk MiB | seconds | MiB/s | PUTs | RSS growth MiB | peak RSS MiB (max of runs)');
      for (const chunk of values.chunks.split(',').map((c) => Number(c) * MIB)) {
        const results = [];
        for (let r = 0; r < Number(values.runs); r++) {
          const spec = {
            commitMs: Number(values['commit-ms']),
            env,
            refreshToken,
            chunk,
            totalBytes,
            pieceSize,
            piecePath,
            lastPath,
            dataDir: join(work, `d${chunk}-${r}`),
          };
          const out = await run(process.execPath, [fileURLToPath(import.meta.url)], {
            MEASURE_CHILD: JSON.stringify(spec),
          });
          results.push(JSON.parse(out.trim().split('\n').pop()));
        }
        const best = Math.min(...results.map((x) => x.seconds));
        const growth = Math.max(...results.map((x) => x.growthMiB));
        const peak = Math.max(...results.map((x) => x.peakMiB));
        console.log(
          `${String(chunk / MIB).padStart(9)} | ${best.toFixed(2).padStart(7)} | ${(totalBytes / MIB / best).toFixed(1).padStart(5)} | ${String(Math.ceil(totalBytes / chunk)).padStart(4)} | ${growth.toFixed(1).padStart(6)} | ${peak.toFixed(0)}`,
        );
      }
    } finally {
      sandbox.kill('SIGTERM');
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** One upload in this (fresh) process; prints `{seconds, growthMiB}`. */
async function child(spec) {
  const { TransferHandles, Pacer, loadConfig, silentLog } = await import(ENGINE);
  const { OAuth2Client } = await import('google-auth-library');
  const { Keyv } = await import('keyv');
  const { env } = spec;
  const client = new OAuth2Client({
    clientId: env.GDRIVE_CLIENT_ID,
    clientSecret: env.GDRIVE_CLIENT_SECRET,
    endpoints: { oauth2TokenUrl: env.GDRIVE_OAUTH_TOKEN_URL },
  });
  client.setCredentials({ refresh_token: spec.refreshToken });
  // --commit-ms: Drive answers a chunk only once it is stored; the sandbox's latency comes before
  // the body, so that per-chunk cost is added here, after each PUT's answer.
  const http = {
    request: async (o) => {
      const response = await client.request(o);
      if (spec.commitMs > 0 && o.method === 'PUT') await new Promise((r) => setTimeout(r, spec.commitMs));
      return response;
    },
  };
  const config = loadConfig({
    env: { ...env, GDRIVE_BACKUP_DATA_DIR: spec.dataDir },
    flags: { chunkSize: spec.chunk, retryBaseMs: 5 },
    readFile: false,
  });
  const handles = new TransferHandles({
    config,
    state: new Keyv(),
    log: silentLog,
    httpFor: async () => http,
    pacer: new Pacer({ maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs }),
  });
  const object = { type: 'server', id: null };
  // Baseline after the imports, before anything of the upload (the chunk buffer included).
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  // A tiny upload first, so the token and connection are ready when the clock starts.
  const warm = await handles.openWrite({ object, path: '/w', parentId: 'root', name: 'warm' });
  await handles.appendFile(warm, spec.lastPath);
  await handles.closeWrite(warm);
  const fd = await handles.openWrite({
    object,
    path: '/m.bin',
    parentId: 'root',
    name: `m-${spec.chunk}.bin`,
  });
  const started = performance.now();
  let sent = 0;
  while (sent + spec.pieceSize <= spec.totalBytes) sent += await handles.appendFile(fd, spec.piecePath);
  if (sent < spec.totalBytes) sent += await handles.appendFile(fd, spec.lastPath);
  const result = await handles.closeWrite(fd);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (result.size !== spec.totalBytes)
    throw new Error(`uploaded ${result.size} bytes, expected ${spec.totalBytes}`);
  console.log(JSON.stringify({ seconds, growthMiB: (peak - baseline) / MIB, peakMiB: peak / MIB }));
}

/** The OAuth code flow against the sandbox (consent answered by following its redirect). */
async function connect(env) {
  const { OAuth2Client } = await import('google-auth-library');
  const client = new OAuth2Client({
    clientId: env.GDRIVE_CLIENT_ID,
    clientSecret: env.GDRIVE_CLIENT_SECRET,
    redirectUri: 'http://127.0.0.1:9/cb',
    endpoints: { oauth2TokenUrl: env.GDRIVE_OAUTH_TOKEN_URL, oauth2AuthBaseUrl: env.GDRIVE_OAUTH_AUTH_URL },
  });
  const consent = client.generateAuthUrl({
    access_type: 'offline',
    prompt: 'consent',
    scope: 'https://www.googleapis.com/auth/drive.file',
    state: 'measure',
  });
  const answer = await fetch(consent, { redirect: 'manual' });
  const code = new URL(answer.headers.get('location')).searchParams.get('code');
  const { tokens } = await client.getToken(code);
  return tokens.refresh_token;
}

function run(command, argv, extraEnv) {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, argv, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...extraEnv },
    });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}`))));
  });
}

/** The sandbox's `NAME=value` lines up to `ready`. */
function readyLines(proc) {
  return new Promise((resolve, reject) => {
    const env = {};
    let buffered = '';
    proc.on('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
    proc.stdout.on('data', (data) => {
      buffered += data;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === 'ready') return resolve(env);
        const match = /^([A-Z_]+)=(.*)$/.exec(line);
        if (match) env[match[1]] = match[2];
        newline = buffered.indexOf('\n');
      }
    });
  });
}
