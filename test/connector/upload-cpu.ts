// CPU of the upload path, for the profile behind the figures in the upload module's notes (not a
// test: run by hand). Uploads GiB of data through TransferHandles in 100 MiB appendFile pieces to
// a sandbox in its own process (so this process's CPU is the engine's), and prints the CPU
// seconds of this process per GiB. Arguments: GiB (default 1), chunk size in MiB (default: the
// config's). Build and run:
//   npx esbuild test/connector/upload-cpu.ts --bundle --platform=node --format=esm \
//     --packages=external --outfile=/tmp/upload-cpu.mjs && node --cpu-prof --cpu-prof-dir=/tmp/prof /tmp/upload-cpu.mjs 1 [chunk MiB]
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { loadConfig } from '../../connector/config/config.js';
import { Pacer } from '../../connector/drive/retry.js';
import { TransferHandles } from '../../connector/drive/transfer-handles.js';
import { silentLog } from '../../connector/log.js';
import { startChildSandbox } from './data-path-fixture.js';

const MIB = 1024 * 1024;
const PIECE = 100 * MIB;

async function main(): Promise<void> {
  const gib = Number(process.argv[2] ?? '1');
  const sandbox = await startChildSandbox();
  const dir = await mkdtemp(join(tmpdir(), 'gdrive-cpu-'));
  try {
    const config = loadConfig({
      env: { ...sandbox.env, GDRIVE_BACKUP_DATA_DIR: dir },
      flags: { retryBaseMs: 5, ...(process.argv[3] ? { chunkSize: Number(process.argv[3]) * MIB } : {}) },
      readFile: false,
    });
    const handles = new TransferHandles({
      config,
      state: new Keyv(),
      log: silentLog,
      httpFor: async () => sandbox.http,
      pacer: new Pacer({ maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs }),
    });
    const piece = join(dir, 'piece');
    const file = await open(piece, 'w');
    const block = randomBytes(MIB);
    for (let i = 0; i < PIECE / MIB; i++) {
      block.writeUInt32LE(i, 0);
      await file.write(block);
    }
    await file.close();
    const object = { type: 'server' as const, id: null };
    const total = gib * 1024 * MIB;
    const warm = await handles.openWrite({ object, path: '/w', parentId: 'root', name: 'w' });
    await handles.appendFile(warm, piece);
    await handles.closeWrite(warm);
    const cpu = process.cpuUsage();
    const started = Date.now();
    const fd = await handles.openWrite({ object, path: '/cpu.bin', parentId: 'root', name: 'cpu.bin' });
    for (let sent = 0; sent < total; sent += PIECE) await handles.appendFile(fd, piece);
    const result = await handles.closeWrite(fd);
    const used = process.cpuUsage(cpu);
    const seconds = (used.user + used.system) / 1e6;
    const perGib = seconds / (result.size / (1024 * MIB));
    console.log(
      `uploaded ${(result.size / MIB).toFixed(0)} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s, chunk setting ${config.chunkSize / MIB} MiB: CPU ${seconds.toFixed(2)} s (user ${(used.user / 1e6).toFixed(2)}, system ${(used.system / 1e6).toFixed(2)}) = ${perGib.toFixed(2)} CPU s/GiB`,
    );
  } finally {
    await sandbox.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
