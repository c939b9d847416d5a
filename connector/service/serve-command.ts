/**
 * `gdrive-backup serve`: the service the PHP hook calls.
 *
 * Listens on the unix socket (mode 0600, or 0660 owned by config.socketGroup) or, when
 * config.listen is set, on a loopback address only: the API token guards the data, but nothing
 * beyond this machine should even reach it. A socket file left by a killed service is removed;
 * one that still answers means another service owns it.
 *
 * Shutdown (SIGTERM/SIGINT, or the idle timeout) stops accepting, lets in-flight requests
 * finish, then closes the connector: open handles stay in the state store and a later service
 * carries on with them.
 */

import { chmod, chown, lstat, unlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Config, ConfigError } from '../config/config.js';
import { createConnector } from '../connector.js';
import { GdriveBackupError, isGdriveBackupError } from '../errors/errors.js';
import { fromPino, type Log, rotatingLogFile, silentLog } from '../log.js';
import type { Connector } from '../transport/types.js';
import { ensureApiToken } from './api-token.js';
import type { ServiceApp } from './routes.js';
import { groupId, switchToDataDirOwner } from './run-as-owner.js';
import { buildService, type ServiceOptions } from './server.js';

export interface StartServiceOptions {
  log?: ServiceOptions['log'];
  /**
   * How long to wait for the data dir's lock. A service killed hard leaves its lock behind until
   * the lock goes stale (data-dir-lock.ts); a restarted service waits that out instead of failing.
   */
  waitForLockMs?: number;
  /** Called once when the idle timeout stopped the service. */
  onIdleStop?: () => void;
  /**
   * Written (with this process's pid) once the data dir is ours and before the socket accepts:
   * a client may read it as soon as the socket answers. Removed when the service stops.
   */
  pidFile?: string;
}

export interface RunningService {
  readonly app: ServiceApp;
  readonly connector: Connector;
  readonly apiToken: string;
  /** The socket path, or `http://host:port` for a loopback listener. */
  readonly address: string;
  /** Stops accepting, waits for in-flight requests, closes the connector. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the service has stopped (by stop() or by the idle timeout). */
  readonly stopped: Promise<void>;
}

/** A little longer than data-dir-lock.ts takes to call a dead process's lock stale. */
const LOCK_WAIT_MS = 20_000;

const LOOPBACK_HOSTS = new Set(['localhost', '::1', '[::1]']);

/** HOST:PORT of config.listen, refused unless HOST is a loopback address. */
export function loopbackAddress(listen: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(listen);
  if (!match) throw new ConfigError('listen', 'not HOST:PORT; accepted: a loopback HOST:PORT');
  const host = match[1]!;
  if (!LOOPBACK_HOSTS.has(host) && !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))
    throw new ConfigError(
      'listen',
      `${host} is not a loopback address; accepted: 127.0.0.1, ::1 or localhost (use the unix socket otherwise)`,
    );
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch {
    return;
  }
  if (!isSocket)
    throw new ConfigError('socketPath', `${path} exists and is not a socket; accepted: a free path`);
  if (await socketAnswers(path))
    throw new GdriveBackupError('data_dir_locked', { dataDir: `the socket ${path}` });
  await unlink(path);
}

/** A Log whose target is set once the fastify logger exists (the connector is made first). */
function forwardingLog(): Log & { target: Log } {
  const log = {
    target: silentLog,
    debug: (message: string, fields?: Record<string, unknown>) => log.target.debug(message, fields),
    info: (message: string, fields?: Record<string, unknown>) => log.target.info(message, fields),
    warn: (message: string, fields?: Record<string, unknown>) => log.target.warn(message, fields),
    error: (message: string, fields?: Record<string, unknown>) => log.target.error(message, fields),
  };
  return log;
}

async function connectorWhenUnlocked(config: Config, log: Log, waitMs: number): Promise<Connector> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await createConnector(config, { log });
    } catch (error) {
      if (!isGdriveBackupError(error, 'data_dir_locked') || Date.now() >= deadline) throw error;
      await sleep(500);
    }
  }
}

/** Builds and starts the service (connector, token, listener); no signal handling. */
export async function startService(
  config: Config,
  options: StartServiceOptions = {},
): Promise<RunningService> {
  const apiToken = await ensureApiToken(config.dataDir);
  const log = forwardingLog();
  const connector = await connectorWhenUnlocked(config, log, options.waitForLockMs ?? 0);
  // Opened once the data dir is ours, so that the log file's rotation has one writer.
  const logFile =
    options.log === undefined && config.logFile !== ''
      ? rotatingLogFile(config.logFile, config.logMaxSize, config.logKeep)
      : undefined;
  const closeLogFile = async () => {
    if (logFile) await new Promise<void>((resolve) => logFile.end(resolve));
  };
  const app = buildService({
    connector,
    config,
    apiToken,
    log: logFile ? { stream: logFile } : options.log,
  });
  log.target = fromPino(app.log);
  let address: string;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping: Promise<void> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  const removePidFile = async () => {
    if (options.pidFile !== undefined) await unlink(options.pidFile).catch(() => {});
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (idleTimer) clearTimeout(idleTimer);
      try {
        await app.close();
      } finally {
        await removePidFile();
        await connector.close();
        await closeLogFile();
        resolveStopped();
      }
    })();
    return stopping;
  };

  try {
    // The connector holds the data dir's lock: no other service can own this pid file now.
    if (options.pidFile !== undefined) await writeFile(options.pidFile, `${process.pid}\n`, { mode: 0o600 });
    if (config.idleTimeout > 0) {
      const idleMs = config.idleTimeout * 1000;
      let inFlight = 0;
      const arm = () => {
        if (idleTimer) clearTimeout(idleTimer);
        idleTimer = setTimeout(async () => {
          if (inFlight > 0) return;
          // A backup between two appendFile calls holds a handle: not idle.
          if ((await connector.openHandles().catch(() => 1)) > 0 || inFlight > 0) return arm();
          // Secret changes the client has not stored yet live only in this process.
          if (connector.clientSecrets?.pending) return arm();
          app.log.info({ idleTimeout: config.idleTimeout }, 'idle, stopping');
          await stop();
          options.onIdleStop?.();
        }, idleMs);
        idleTimer.unref();
      };
      app.addHook('onRequest', async (_request, reply) => {
        inFlight++;
        if (idleTimer) clearTimeout(idleTimer);
        // 'close' comes exactly once per response, also for aborted requests.
        reply.raw.once('close', () => {
          inFlight--;
          if (inFlight === 0) arm();
        });
      });
      arm();
    }

    if (config.listen !== '') {
      const { host, port } = loopbackAddress(config.listen);
      await app.listen({ host, port });
      const bound = app.server.address();
      const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
      address = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    } else {
      await removeStaleSocket(config.socketPath);
      // No window in which the fresh socket is open to others: umask first, chmod after.
      const previousUmask = process.umask(0o177);
      try {
        await app.listen({ path: config.socketPath });
      } finally {
        process.umask(previousUmask);
      }
      if (config.socketGroup !== '') {
        const gid = groupId(config.socketGroup);
        if (gid === undefined)
          throw new ConfigError('socketGroup', `no group ${config.socketGroup}; accepted: an existing group`);
        await chown(config.socketPath, process.getuid?.() ?? -1, gid);
        await chmod(config.socketPath, 0o660);
      } else {
        await chmod(config.socketPath, 0o600);
      }
      address = config.socketPath;
    }
  } catch (error) {
    await removePidFile();
    await connector.close();
    await closeLogFile();
    throw error;
  }

  app.log.info({ address }, 'listening');
  return { app, connector, apiToken, address, stop, stopped };
}

/** What `gdrive-backup serve` runs: resolves when the service has stopped (exit 0). */
export async function runServeCommand(config: Config): Promise<void> {
  switchToDataDirOwner(config.dataDir);
  const service = await startService(config, {
    waitForLockMs: LOCK_WAIT_MS,
    pidFile: join(config.dataDir, 'connector.pid'),
  });
  const onSignal = (signal: NodeJS.Signals) => {
    service.app.log.info({ signal }, 'stopping');
    void service.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await service.stopped;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
