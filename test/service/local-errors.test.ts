// Over the service's socket: a restore into a local file that cannot take the bytes (a full
// device, a directory) answers 400 local_file_error naming the path and the cause, not 502
// "Google Drive refused the request", and the handle reads on into a good file.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../connector/config/config.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { type Sandbox, startSandbox } from '../../connector/sandbox/drive-sandbox.js';
import { type RunningService, startService } from '../../connector/service/serve-command.js';
import { ServiceClient } from '../../connector/service/service-client.js';
import { canMountTmpfs, mountFullDisk } from '../helpers/full-disk.js';
import { connectObject, raw } from './harness.js';

const object: ObjectRef = { type: 'server', id: null };

let sandbox: Sandbox;
let root: string;
let exchange: string;
let service: RunningService;
let client: ServiceClient;
let socketPath: string;

beforeAll(async () => {
  sandbox = await startSandbox({});
  root = await mkdtemp(join(tmpdir(), 'gdrive-local-errors-'));
  exchange = join(root, 'exchange');
  await mkdir(exchange);
  const config = loadConfig({
    env: { ...sandbox.env },
    flags: {
      dataDir: join(root, 'data'),
      retryBaseMs: '5',
      logLevel: 'silent',
      exchangeDirs: [exchange],
    },
    readFile: false,
  });
  service = await startService(config, { log: false });
  socketPath = config.socketPath;
  client = new ServiceClient({ socketPath }, service.apiToken);
  await connectObject(client, object);
});

afterAll(async () => {
  await client?.close();
  await service?.stop();
  await sandbox?.close();
  await rm(root, { recursive: true, force: true });
});

describe.runIf(canMountTmpfs)('restoring into a local file that fails', () => {
  it('answers 400 local_file_error with the path and the cause, and the handle reads on', async () => {
    const data = Buffer.alloc(200_000, 7);
    const piece = join(exchange, 'piece');
    await writeFile(piece, data);
    const fd = await client.openWrite(object, '/backup.tar');
    await client.append(fd, piece);
    await client.closeWrite(fd);
    const readFd = await client.openRead(object, '/backup.tar', 0);
    const read = (localFile: string) =>
      raw(socketPath, 'POST', `/v1/reads/${readFd}/read`, {
        token: service.apiToken,
        body: JSON.stringify({ localFile, size: null }),
      });
    const disk = mountFullDisk(exchange);
    onTestFinished(() => disk.unmount());
    const full = join(disk.dir, 'restored.tar');
    const answer = await read(full);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      error: {
        code: 'local_file_error',
        message: `The local file "${full}" cannot be used: no space left on the device (ENOSPC).`,
        retryable: false,
      },
    });
    const dir = join(exchange, 'a-directory');
    await mkdir(dir);
    expect(await read(dir)).toMatchObject({ status: 400, body: { error: { code: 'local_file_error' } } });
    const good = join(exchange, 'restored');
    expect(await client.read(readFd, good, null)).toBe(data.length);
    expect((await readFile(good)).equals(data)).toBe(true);
    await client.closeRead(readFd);
  });
});
