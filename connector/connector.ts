/**
 * createConnector(): the connector core, assembled. It owns the data dir (lock), opens the
 * stores, and wires accounts (tokens), the OAuth flow, per-object folder caches, the handle
 * engine and one Pacer (the retry policy) that every Drive and OAuth request runs under.
 * The service, the CLI and the tests all start here.
 */
import { Activity, recordingHandles, recordingTransport } from './activity.js';
import { Accounts } from './auth/accounts.js';
import { OAuthFlow } from './auth/oauth-flow.js';
import type { Config } from './config/config.js';
import { formatObjectRef, type ObjectRef } from './core/object-ref.js';
import type { ObjectNames } from './core/types.js';
import { lockDataDir } from './data-dir-lock.js';
import { RequestCounter } from './drive/authorized-http.js';
import { DriveApi } from './drive/drive-api.js';
import type { DriveHttp } from './drive/drive-http.js';
import { KeyedMutex, ObjectFolders, RecentItems } from './drive/folders.js';
import { describeFailure, Pacer } from './drive/retry.js';
import { TransferHandles } from './drive/transfer-handles.js';
import { type Log, silentLog } from './log.js';
import { openStores } from './store/stores.js';
import { runCheck } from './transport/check.js';
import { ObjectTransport } from './transport/object-transport.js';
import type { Connector } from './transport/types.js';

export interface ConnectorOptions {
  log?: Log;
  /** Clock of the OAuth state lifetime (tests move it). */
  now?: () => number;
  /** Record no activity (connector/activity.ts): read-only CLI commands change nothing. */
  readOnly?: boolean;
}

export interface CoreConnector extends Connector {
  transport(object: ObjectRef, names?: ObjectNames): ObjectTransport;
}

interface ObjectContext {
  folders: ObjectFolders;
  api: () => Promise<DriveApi>;
}

export async function createConnector(
  config: Config,
  options: ConnectorOptions = {},
): Promise<CoreConnector> {
  const log = options.log ?? silentLog;
  const lock = await lockDataDir(config.dataDir, log);
  let stores: Awaited<ReturnType<typeof openStores>>;
  try {
    stores = await openStores(config, log);
  } catch (error) {
    await lock.release();
    throw error;
  }
  const { state, secrets } = stores;
  const counter = new RequestCounter();
  const pacer = new Pacer({ maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs }, (event) =>
    log.warn('retrying a Drive request', {
      label: event.label,
      attempt: event.attempt,
      delayMs: event.delayMs,
      failure: describeFailure(event.failure),
    }),
  );
  const activity = new Activity(state, log, options.readOnly);
  const accounts = new Accounts({
    config,
    secrets,
    state,
    log,
    counter,
    // Recorded in the background: the refresh runs inside a Drive request, which need not wait.
    onTokenRefresh: (object) => void activity.tokenRefreshed(object),
  });
  const mutex = new KeyedMutex();
  // What the connector made or finished, for look-ups Drive's lists have not caught up with.
  const recent = new RecentItems(state, options.now);
  const contexts = new Map<string, ObjectContext>();

  const contextFor = (object: ObjectRef): ObjectContext => {
    const key = formatObjectRef(object);
    let context = contexts.get(key);
    if (!context) {
      // A reconnect gives the object a new client: the DriveApi follows the current one.
      let api: { http: DriveHttp; api: DriveApi } | undefined;
      const apiFor = async () => {
        const http = await accounts.httpFor(object);
        if (api?.http !== http) api = { http, api: new DriveApi(http, pacer, config, log, key) };
        return api.api;
      };
      context = {
        api: apiFor,
        folders: new ObjectFolders({ object, api: apiFor, state, log, mutex, recent }),
      };
      contexts.set(key, context);
    }
    return context;
  };

  const flow = new OAuthFlow({
    config,
    state,
    accounts,
    pacer,
    counter,
    log,
    ...(options.now ? { now: options.now } : {}),
    // Another account (or none) makes the object's cached folder ids and its activity meaningless.
    onAccountChanged: async (object) => {
      await activity.forget(object);
      return contextFor(object).folders.forget();
    },
  });

  const engine = new TransferHandles({
    config,
    state,
    log,
    httpFor: (object) => accounts.httpFor(object),
    pacer,
    recent,
  });
  const handles = recordingHandles(engine, (fd) => engine.owner(fd), activity);

  let closed = false;
  return {
    oauth: flow,
    ...(stores.clientSecrets ? { clientSecrets: stores.clientSecrets } : {}),
    transport(object: ObjectRef, names: ObjectNames = {}) {
      const context = contextFor(object);
      const deps = { config, log, accounts, folders: context.folders, api: context.api, activity };
      // check()'s probe file is no backup: it runs on the engine that records nothing.
      const probing = new ObjectTransport(object, names, {
        ...deps,
        engine,
        check: () => Promise.reject(new Error('check() inside check()')),
      });
      const transport = new ObjectTransport(object, names, {
        ...deps,
        engine: handles,
        check: () => runCheck(probing, config, log),
      });
      return recordingTransport(transport, activity);
    },
    appendFile: (fd, localFile, options) => handles.appendFile(fd, localFile, options),
    closeWrite: (fd) => handles.closeWrite(fd),
    cancelWrite: (fd) => handles.cancelWrite(fd),
    readFile: (fd, localFile, size, options) => handles.readFile(fd, localFile, size, options),
    closeRead: (fd) => handles.closeRead(fd),
    openHandles: () => handles.openCount(),
    requestCounts: () => counter.snapshot(),
    async close() {
      if (closed) return;
      closed = true;
      await stores.close();
      await lock.release();
    },
  };
}
