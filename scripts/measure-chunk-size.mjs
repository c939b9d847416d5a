// Measures the resumable upload at several chunk sizes against the sandbox, to choose
// config's default chunkSize by numbers: throughput and the engine's RSS growth.
//
//   node scripts/measure-chunk-size.mjs [--mib 256] [--chunks 8,16,32] [--latency 100] [--bandwidth 200]
//
// The sandbox runs in its own process (`gdrive-backup sandbox`), so the RSS sampled here is the
// upload engine's alone. The engine (connector/drive/*) is bundled on the fly with esbuild.
// Latency is added by the sandbox before every answer (Drive's per-request cost), bandwidth caps
// each connection. Not part of the test suite: it takes a minute or two.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    chunks: { type: 'string', default: '8,16,32' },
    latency: { type: 'string', default: '0' },
    bandwidth: { type: 'string', default: '0' },
    piece: { type: 'string', default: String(10 * 1024 * 1024 + 1) },
  },
});
const MIB = 1024 * 1024;
const totalBytes = Number(values.mib) * MIB;
const chunkSizes = values.chunks.split(',').map((c) => Number(c) * MIB);
const pieceSize = Number(values.piece);

const work = await mkdtemp(join(tmpdir(), 'measure-chunk-'));
try {
  if (!existsSync('dist/gdrive-backup.mjs')) await run(process.execPath, ['scripts/build.mjs']);
  // Inside the project, so the bundle's external imports resolve from node_modules.
  const engineFile = join(process.cwd(), 'dist', 'measure-engine.mjs');
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
    outfile: engineFile,
    logLevel: 'warning',
  });
  const { TransferHandles, Pacer, loadConfig, silentLog } = await import(engineFile);
  const { OAuth2Client } = await import('google-auth-library');
  const { Keyv } = await import('keyv');

  const args = ['bin/gdrive-backup.mjs', 'sandbox'];
  if (values.latency !== '0') args.push('--latency', values.latency);
  if (values.bandwidth !== '0') args.push('--bandwidth', values.bandwidth);
  const sandbox = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const env = await readyLines(sandbox);
  try {
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
    client.setCredentials(tokens);
    const http = { request: (o) => client.request(o) };
    const folder = await client.request({
      url: `${env.GDRIVE_API_ROOT}drive/v3/files?fields=id`,
      method: 'POST',
      data: { name: 'measure', mimeType: 'application/vnd.google-apps.folder', parents: ['root'] },
    });

    const piecePath = join(work, 'piece');
    const piece = Buffer.allocUnsafe(pieceSize);
    for (let at = 0; at < pieceSize; at += 4)
      piece.writeUInt32LE((at * 2654435761) >>> 0, Math.min(at, pieceSize - 4));
    await writeFile(piecePath, piece);
    const lastPath = join(work, 'last');
    await writeFile(lastPath, piece.subarray(0, totalBytes % pieceSize));

    console.log(
      `upload of ${values.mib} MiB in pieces of ${pieceSize} B; sandbox latency ${values.latency} ms, bandwidth ${values.bandwidth === '0' ? 'unlimited' : `${values.bandwidth} Mbit/s`}`,
    );
    console.log('chunk MiB | seconds | MiB/s | PUTs | peak RSS growth MiB');
    for (const chunkSize of chunkSizes) {
      const dataDir = join(work, `data-${chunkSize}`);
      await mkdir(dataDir);
      const config = loadConfig({
        env: { ...env, GDRIVE_BACKUP_DATA_DIR: dataDir },
        flags: { chunkSize, retryBaseMs: 5 },
        readFile: false,
      });
      const handles = new TransferHandles({
        config,
        state: new Keyv(),
        log: silentLog,
        httpFor: async () => http,
        pacer: new Pacer({ maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs }),
      });
      const fd = await handles.openWrite({
        object: { type: 'server', id: null },
        path: '/m.bin',
        parentId: folder.data.id,
        name: `m-${chunkSize}.bin`,
      });
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 5);
      const started = performance.now();
      let sent = 0;
      while (sent + pieceSize <= totalBytes) sent += await handles.appendFile(fd, piecePath);
      if (sent < totalBytes) sent += await handles.appendFile(fd, lastPath);
      const result = await handles.closeWrite(fd);
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      if (result.size !== totalBytes)
        throw new Error(`uploaded ${result.size} bytes, expected ${totalBytes}`);
      const puts = Math.ceil(totalBytes / chunkSize);
      console.log(
        `${String(chunkSize / MIB).padStart(9)} | ${seconds.toFixed(2).padStart(7)} | ${(totalBytes / MIB / seconds).toFixed(1).padStart(5)} | ${String(puts).padStart(4)} | ${((peak - baseline) / MIB).toFixed(1)}`,
      );
    }
  } finally {
    sandbox.kill('SIGTERM');
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

function run(command, argv) {
  return new Promise((resolve, reject) => {
    spawn(command, argv, { stdio: 'inherit' }).on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`)),
    );
  });
}

/** The sandbox's `NAME=value` lines up to `ready`. */
function readyLines(child) {
  return new Promise((resolve, reject) => {
    const env = {};
    let buffered = '';
    child.on('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
    child.stdout.on('data', (data) => {
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
