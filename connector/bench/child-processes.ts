/**
 * The benchmark's two kinds of child process, each running the same bundle as the bench:
 * `gdrive-backup sandbox` (the Drive emulator) and `gdrive-backup serve` (the connector service,
 * driven over its unix socket like the PHP hook). Separate processes, so the service's CPU and
 * RSS read from /proc are its own, not the sandbox's or the bench's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readApiToken } from '../service/api-token.js';
import { SERVICE_NODE_FLAGS } from '../service/node-flags.js';
import { ServiceClient } from '../service/service-client.js';
import { childrenCpuSeconds, PeakMeter } from './process-stats.js';

export type SandboxEnv = Record<string, string>;

export interface ChildHandle {
  readonly pid: number;
  /** SIGTERM, then resolves when the process has exited. */
  stop(): Promise<void>;
}

export interface SandboxChild extends ChildHandle {
  /** The GDRIVE_...=value lines it printed (API root, OAuth URLs, client id and secret). */
  readonly env: SandboxEnv;
}

export interface ServiceChild extends ChildHandle {
  readonly client: ServiceClient;
  readonly dataDir: string;
}

/** Keeps the last lines of stderr, to say why a child died. */
function stderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.on('data', (data: Buffer) => {
    tail = (tail + data.toString()).slice(-2000);
  });
  return () => tail.trim();
}

function stopper(child: ChildProcess): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    })();
    return stopping;
  };
}

/**
 * Resolves with the first stdout line `accept` returns a value for; rejects when the process
 * exits before (with its stderr), or after `timeoutMs`.
 */
function awaitLine<T>(
  child: ChildProcess,
  what: string,
  accept: (line: string) => T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const tail = stderrTail(child);
  return new Promise<T>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => fail(new Error(`${what} did not start within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onExit = (code: number | null) =>
      fail(new Error(`${what} exited (${code}) before it was ready: ${tail() || 'no message'}`));
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      child.kill('SIGTERM');
      reject(error);
    };
    child.once('exit', onExit);
    lines.on('line', (line) => {
      const value = accept(line);
      if (value === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      // Keep draining stdout so a chatty child never blocks on a full pipe.
      lines.removeAllListeners('line');
      child.stdout?.resume();
      resolve(value);
    });
  });
}

/** Drops the caller's GDRIVE_* settings: every child gets exactly the ones the bench gives it. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GDRIVE_')) env[key] = value;
  return { ...env, ...extra };
}

/** How the sandbox child shapes its link, and the API root its session URIs name. */
export interface SandboxChildOptions {
  latencyMs?: number;
  bandwidthMbit?: number;
  /** Server time spent on each upload request before it answers (Drive-like link). */
  uploadRequestMs?: number;
  /** e.g. https://www.googleapis.com/ when clients reach it through the TLS proxy. */
  publicUrl?: string;
}

export async function startSandboxChild(
  cliPath: string,
  options: SandboxChildOptions = {},
): Promise<SandboxChild> {
  const args = [cliPath, 'sandbox', '--port', '0'];
  if (options.latencyMs) args.push('--latency', String(options.latencyMs));
  if (options.bandwidthMbit) args.push('--bandwidth', String(options.bandwidthMbit));
  if (options.uploadRequestMs) args.push('--upload-request-ms', String(options.uploadRequestMs));
  if (options.publicUrl) args.push('--public-url', options.publicUrl);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv({}) });
  const env: SandboxEnv = {};
  await awaitLine(child, 'the sandbox', (line) => {
    if (line.trim() === 'ready') return true;
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
    return undefined;
  });
  return { pid: child.pid!, env, stop: stopper(child) };
}

export interface ServiceChildOptions {
  sandboxEnv: SandboxEnv;
  dataDir: string;
  /** GDRIVE_CHUNK_SIZE; absent = the product's default. */
  chunkSize?: number;
  /** Where appended pieces are read from and read pieces are written to. */
  exchangeDir: string;
  /** More environment, e.g. the TLS proxy's HTTPS_PROXY and NODE_EXTRA_CA_CERTS. */
  env?: Record<string, string>;
}

export async function startServiceChild(
  cliPath: string,
  options: ServiceChildOptions,
): Promise<ServiceChild> {
  const socketPath = join(options.dataDir, 'connector.sock');
  // Started like the PHP hook starts it, V8 options included.
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, cliPath, 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv({
      ...options.sandboxEnv,
      GDRIVE_BACKUP_DATA_DIR: options.dataDir,
      GDRIVE_BACKUP_SOCKET: socketPath,
      ...(options.chunkSize === undefined ? {} : { GDRIVE_CHUNK_SIZE: String(options.chunkSize) }),
      GDRIVE_EXCHANGE_DIRS: options.exchangeDir,
      ...options.env,
      // Info is the level that announces "listening"; nothing is logged per byte.
      GDRIVE_BACKUP_LOG_LEVEL: 'info',
    }),
  });
  await awaitLine(child, 'the connector service', (line) =>
    line.includes('"listening"') ? true : undefined,
  );
  const token = await readApiToken(options.dataDir);
  if (token === undefined) {
    await stopper(child)();
    throw new Error(`the service wrote no API token in ${options.dataDir}`);
  }
  const client = new ServiceClient({ socketPath }, token);
  const stop = stopper(child);
  return {
    pid: child.pid!,
    client,
    dataDir: options.dataDir,
    stop: async () => {
      await client.close();
      await stop();
    },
  };
}

/** One command run to its end: wall time, its CPU seconds and its peak RSS. */
export interface ChildRun {
  ms: number;
  cpuSeconds: number | null;
  peakRssMib: number | null;
}

/**
 * Runs `command args` to its end and measures it. CPU comes from this process's children
 * counters (the command is waited for, so all of its CPU time lands there, which sampling its
 * /proc entry would miss after it exits); the peak RSS is sampled from /proc while it runs.
 */
export async function measureChild(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<ChildRun> {
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const meter = new PeakMeter(child.pid!);
  const tail = stderrTail(child);
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = performance.now() - started;
  const peakRssMib = meter.stop();
  const cpuAfter = childrenCpuSeconds();
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${tail() || 'no message'}`);
  return {
    ms,
    cpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
    peakRssMib,
  };
}

/** `gdrive-backup <args>` in a child process with exactly `env` as its GDRIVE_* settings. */
export function measureCli(cliPath: string, args: string[], env: Record<string, string>): Promise<ChildRun> {
  return measureChild(process.execPath, [cliPath, ...args], cleanEnv(env));
}
