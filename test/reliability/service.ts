// The connector service as the suite drives it: `gdrive-backup serve` as a real process (so it
// can be killed with SIGKILL and measured in /proc), or startService() in this process (the same
// fastify service on a real unix socket, cheap enough for one per fault-matrix cell). Plus what
// every probe checks afterwards: the sandbox's Drive, the data dir, the local files.
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, loadConfig } from '../../connector/config/config.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import { ERRORS, type ErrorCode } from '../../connector/errors/errors.js';
import type { Sandbox } from '../../connector/sandbox/drive-sandbox.js';
import { FOLDER_MIME } from '../../connector/sandbox/sandbox-state.js';
import { readApiToken } from '../../connector/service/api-token.js';
import { type RunningService, startService } from '../../connector/service/serve-command.js';
import { ServiceClient } from '../../connector/service/service-client.js';
import { spawnCli, untilListening } from '../cli/run-cli.js';
import { connectObject } from '../service/harness.js';

export const KIB = 1024;
export const CHUNK = 256 * KIB;
export const OBJECT: ObjectRef = { type: 'subscription', id: '10' };
export const OBJECT_NAME = 'reliable.example';

/** A private root for one test file: data dirs, the exchange dir and a dir outside it. */
export interface Workspace {
  root: string;
  /** The only exchange dir the services allow. */
  exchange: string;
  /** Beside the exchange dir, not inside it. */
  outside: string;
  dataDir(name: string): string;
  remove(): Promise<void>;
}

export async function workspace(label: string): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), `gdrive-reliability-${label}-`));
  const exchange = join(root, 'exchange');
  const outside = join(root, 'outside');
  await mkdir(exchange);
  await mkdir(outside);
  return {
    root,
    exchange,
    outside,
    dataDir: (name) => join(root, `data-${name}`),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** Settings every service of the suite shares (small chunks and ranges, fast retries). */
export function serviceFlags(exchange: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    retryBaseMs: '5',
    chunkSize: String(CHUNK),
    downloadRangeSize: String(CHUNK),
    downloadStreams: '2',
    exchangeDirs: exchange,
    rootFolder: 'Reliability',
    ...extra,
  };
}

const FLAG_OF: Record<string, string> = {
  retryBaseMs: '--retry-base-ms',
  chunkSize: '--chunk-size',
  downloadRangeSize: '--download-range-size',
  downloadStreams: '--download-streams',
  exchangeDirs: '--exchange-dirs',
  rootFolder: '--root-folder',
  maxAttempts: '--max-attempts',
  logLevel: '--log-level',
};

/** `gdrive-backup serve` on `dataDir`, its stdout and stderr kept in `logs`. */
export class ServeProcess {
  readonly logs: string[] = [];
  private child!: ChildProcess;

  private constructor(
    readonly sandbox: Sandbox,
    readonly dataDir: string,
    private readonly flags: Record<string, string>,
  ) {}

  static async start(
    sandbox: Sandbox,
    dataDir: string,
    flags: Record<string, string>,
  ): Promise<ServeProcess> {
    const serve = new ServeProcess(sandbox, dataDir, flags);
    await serve.spawn();
    return serve;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get socket(): string {
    return join(this.dataDir, 'connector.sock');
  }

  private async spawn(flags = this.flags): Promise<void> {
    const args = ['serve', '--data-dir', this.dataDir];
    for (const [key, value] of Object.entries(flags)) {
      const flag = FLAG_OF[key];
      if (!flag) throw new Error(`no serve flag for ${key}`);
      args.push(flag, value);
    }
    const child = spawnCli(args, { PATH: process.env.PATH, HOME: this.dataDir, ...this.sandbox.env });
    this.child = child;
    for (const stream of [child.stdout, child.stderr])
      stream?.on('data', (chunk: Buffer) => this.logs.push(chunk.toString()));
    await untilListening(child);
  }

  async token(): Promise<string> {
    const token = await readApiToken(this.dataDir);
    if (!token) throw new Error(`no api-token in ${this.dataDir}`);
    return token;
  }

  async client(): Promise<ServiceClient> {
    return new ServiceClient({ socketPath: this.socket }, await this.token());
  }

  /** SIGKILL, as the OOM killer or a power cut would stop it. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Starts it again on the same data dir (optionally with other settings). */
  async restart(flags: Record<string, string> = this.flags): Promise<void> {
    await this.kill();
    await this.spawn(flags);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }

  logText(): string {
    return this.logs.join('');
  }
}

/** The same service in this process, on a unix socket in `dataDir`. */
export async function inProcessService(
  sandbox: Sandbox,
  dataDir: string,
  flags: Record<string, string>,
): Promise<{ service: RunningService; client: ServiceClient; config: Config }> {
  const config = loadConfig({
    env: { ...sandbox.env },
    flags: { dataDir, logLevel: 'silent', ...flags },
    readFile: false,
  });
  const service = await startService(config, { log: false });
  return { service, client: new ServiceClient({ socketPath: config.socketPath }, service.apiToken), config };
}

export async function connect(
  client: ServiceClient,
  object: ObjectRef = OBJECT,
  name = OBJECT_NAME,
): Promise<string> {
  return connectObject(client, object, name);
}

/** /proc figures of a process: resident set now and at its peak (VmHWM), open descriptors. */
export async function procStats(
  pid: number,
): Promise<{ rssBytes: number; peakRssBytes: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * KIB;
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM'), fds };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/**
 * Every untrashed file on the sandbox's Drive as `path -> md5` (folders as `path/`), with the
 * paths from the top of My Drive: what a person would see in the Drive UI.
 */
export function driveFiles(sandbox: Sandbox): Map<string, string> {
  const items = sandbox.items().filter((item) => !item.trashed);
  const byId = new Map(items.map((item) => [item.id, item]));
  const pathOf = (id: string): string => {
    const item = byId.get(id);
    if (!item) return '';
    return `${pathOf(item.parents[0] ?? '')}/${item.name}`;
  };
  const files = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const item of items) {
    const path = pathOf(item.id) + (item.mimeType === FOLDER_MIME ? '/' : '');
    seen.set(path, (seen.get(path) ?? 0) + 1);
    files.set(path, item.mimeType === FOLDER_MIME ? '' : (item.md5 ?? `no md5, ${item.size} B`));
  }
  for (const [path, count] of seen) if (count > 1) files.set(path, `DUPLICATE x${count}`);
  return files;
}

/** The files (with md5) among driveFiles(), folders left out. */
export function driveFilesOnly(sandbox: Sandbox): Record<string, string> {
  return Object.fromEntries([...driveFiles(sandbox)].filter(([path]) => !path.endsWith('/')).sort());
}

/**
 * A listing of a local dir tree with each file's mode, size and sha256 (links as their target),
 * to compare before and after a probe. Paths in `skip` (relative) are left out.
 */
export async function diskSnapshot(dir: string, skip: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (at: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(at)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      if (skip.includes(relPath)) continue;
      // The state store's atomic writes pass through `<file>.<random>.tmp`: not part of the state.
      if (name.endsWith('.tmp')) continue;
      const path = join(at, name);
      const info = await lstat(path).catch(() => null);
      if (!info) continue;
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isSymbolicLink()) out[relPath] = `link -> ${await readlink(path)}`;
      else if (info.isDirectory()) {
        out[`${relPath}/`] = `dir ${mode}`;
        await walk(path, relPath);
      } else if (info.isFile()) out[relPath] = `${mode} ${info.size} ${sha256(await readFile(path))}`;
      else out[relPath] = `special ${mode}`;
    }
  };
  await walk(dir, '');
  return out;
}

/** The admin's sentence of `code` as a pattern, its {placeholders} matching anything. */
export function sentenceOf(code: ErrorCode): RegExp {
  const parts = ERRORS[code].message
    .split(/\{\w+\}/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`);
}

/** How long rawHttp waits for an answer to the headers alone before it sends the body. */
const ANSWER_ON_HEADERS_MS = 1000;

/**
 * One HTTP/1.1 request written byte by byte to the socket, and the answer as the peer sent it:
 * for what node's http client cannot send (oversized headers) or gives up on (an answer that
 * comes while the body is still being written, then the connection closes: EPIPE).
 */
export function rawHttp(
  socketPath: string,
  head: string,
  body: Buffer = Buffer.alloc(0),
): Promise<{ status: number; body: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined); // EPIPE/ECONNRESET once the peer answered and closed
    socket.on('close', () => {
      const answer = Buffer.concat(chunks).toString('utf8');
      const [top = '', ...rest] = answer.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(top)?.[1] ?? 0);
      if (status === 0) return reject(new Error(`no HTTP answer: ${answer.slice(0, 200)}`));
      let text = rest.join('\r\n\r\n');
      if (/^transfer-encoding: chunked/im.test(top)) text = unchunk(text);
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      resolve({ status, body: parsed, text });
    });
    // The body in pieces, stopping as soon as an answer came: writing on would fail (EPIPE) and
    // take the unread answer down with the socket. A server that refuses on the headers alone
    // (fastify does, for a content-length over its body limit) answers before any body byte is
    // sent: up to a second is given for that, so the answer never races the first writes.
    const write = async (): Promise<void> => {
      socket.write(`${head}\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n`);
      if (body.length > 0)
        await Promise.race([once(socket, 'data').catch(() => undefined), sleep(ANSWER_ON_HEADERS_MS)]);
      for (let at = 0; at < body.length && chunks.length === 0 && !socket.destroyed; at += 64 * KIB) {
        if (!socket.write(body.subarray(at, at + 64 * KIB)))
          await once(socket, 'drain').catch(() => undefined);
      }
      if (!socket.destroyed) socket.end();
    };
    write().catch(() => undefined);
  });
}

function unchunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const at = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, at), 16);
    if (!(size > 0)) return out;
    out += rest.slice(at + 2, at + 2 + size);
    rest = rest.slice(at + 2 + size + 2);
  }
}
