/**
 * What an admin asks `status` first, recorded in the state store where it happens: when the
 * object's access token was last refreshed (auth), the last backup file written and verified
 * (the handle engine's closeWrite) and the last failed transfer (open, append, close, read).
 * When the account was connected is the account record's own `connectedAt`.
 *
 * One state key per fact and object, so facts recorded at once never overwrite each other.
 * Recording never fails an operation: a store error is logged and the operation goes on. The
 * handle and transport wrappers wait for the record before they answer, so once a call has
 * answered, the state it leaves is settled (a caller who looks at the data dir next sees it).
 */
import type { Keyv } from 'keyv';
import { formatObjectRef, type ObjectRef } from './core/object-ref.js';
import type { AccountActivity, HandleOperations } from './core/types.js';
import { toGdriveBackupError } from './errors/errors.js';
import type { Log } from './log.js';
import type { Transport } from './transport/types.js';

const key = (object: ObjectRef, fact: 'token' | 'backup' | 'error') =>
  `activity:${formatObjectRef(object)}:${fact}`;

/** Codes of requests refused before anything was tried (bad input, unknown handles, paths). */
const REFUSED_REQUESTS = new Set<string>([
  'bad_request',
  'unknown_route',
  'invalid_path',
  'invalid_object',
  'unknown_handle',
  'wrong_handle_kind',
  'local_file_forbidden',
  'not_found',
  'is_a_directory',
  'not_a_directory',
]);

export class Activity {
  constructor(
    private readonly state: Keyv,
    private readonly log: Log,
    /** Records nothing (a read-only command: the refresh its own status call made is no news). */
    private readonly readOnly = false,
    private readonly now: () => Date = () => new Date(),
  ) {}

  tokenRefreshed(object: ObjectRef): Promise<void> {
    return this.record(object, 'token', this.now().toISOString());
  }

  backupWritten(object: ObjectRef, path: string, size: number): Promise<void> {
    return this.record(object, 'backup', { path, size, at: this.now().toISOString() });
  }

  async failed(object: ObjectRef, path: string, error: unknown): Promise<void> {
    const known = toGdriveBackupError(error);
    // A request refused as malformed did nothing: it is the caller's mistake, not this
    // object's last error (and a refused request changes nothing, not even this record).
    if (REFUSED_REQUESTS.has(known.code)) return;
    await this.record(object, 'error', {
      code: known.code,
      message: known.message,
      path,
      at: this.now().toISOString(),
    });
  }

  async read(object: ObjectRef): Promise<AccountActivity> {
    const [token, backup, error] = await Promise.all([
      this.state.get<string>(key(object, 'token')),
      this.state.get<AccountActivity['lastBackup']>(key(object, 'backup')),
      this.state.get<AccountActivity['lastError']>(key(object, 'error')),
    ]);
    const activity: AccountActivity = {};
    if (typeof token === 'string') activity.tokenRefreshedAt = token;
    if (backup) activity.lastBackup = backup;
    if (error) activity.lastError = error;
    return activity;
  }

  /** Forgets the object's facts (disconnect: they belonged to the old account). */
  async forget(object: ObjectRef): Promise<void> {
    await Promise.all(
      (['token', 'backup', 'error'] as const).map((fact) => this.state.delete(key(object, fact))),
    );
  }

  /** Settles once the fact is stored (or the store's error logged); never rejects. */
  private async record(object: ObjectRef, fact: 'token' | 'backup' | 'error', value: unknown): Promise<void> {
    if (this.readOnly) return;
    try {
      await this.state.set(key(object, fact), value);
    } catch (error) {
      this.log.warn('could not record activity', {
        object: formatObjectRef(object),
        fact,
        detail: error instanceof Error ? error.message : String(error),
      });
    }
  }
}

/** Where an fd's transfer belongs, for recording; undefined when the fd is unknown. */
export type HandleOwner = (fd: string) => Promise<{ object: ObjectRef; path: string } | undefined>;

/**
 * `target` with some methods replaced; every other member is the target's own, its methods
 * bound to it, so state they keep stays on the target.
 */
function overriding<T extends object>(target: T, replaced: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (Object.hasOwn(replaced, key)) return replaced[key as keyof T];
      const value: unknown = Reflect.get(object, key, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/**
 * The handle engine with its outcomes recorded: a verified closeWrite is the last backup, a
 * failed append, close or read the last error. Handle errors with no known owner (an unknown
 * fd) belong to no object and are not recorded.
 */
export function recordingHandles<E extends HandleOperations>(
  engine: E,
  owner: HandleOwner,
  activity: Activity,
): E {
  const onFailure = async (fd: string, error: unknown): Promise<never> => {
    const found = await owner(fd).catch(() => undefined);
    if (found) await activity.failed(found.object, found.path, error);
    throw error;
  };
  // Calls pass on every argument, the engine's optional last one (progress, options) included.
  type Append = (...args: [string, string, ...unknown[]]) => Promise<number>;
  type Read = (...args: [string, string, number | null, ...unknown[]]) => Promise<number>;
  const append = engine.appendFile.bind(engine) as Append;
  const read = engine.readFile.bind(engine) as Read;
  const replaced = {
    appendFile: (...args: Parameters<Append>) =>
      append(...args).catch((error: unknown) => onFailure(args[0], error)),
    readFile: (...args: Parameters<Read>) =>
      read(...args).catch((error: unknown) => onFailure(args[0], error)),
    closeWrite: async (fd: string) => {
      // Asked first: a closed handle (or one its failure ended) has no record any more.
      const found = await owner(fd).catch(() => undefined);
      try {
        const result = await engine.closeWrite(fd);
        if (found) await activity.backupWritten(found.object, found.path, result.size);
        return result;
      } catch (error) {
        if (found) await activity.failed(found.object, found.path, error);
        throw error;
      }
    },
  };
  return overriding(engine, replaced as unknown as Partial<E>);
}

/** An object's transport whose failed openFileWrite/openFileRead are recorded as its last error. */
export function recordingTransport<T extends Transport>(transport: T, activity: Activity): T {
  const failed = (path: string) => async (error: unknown) => {
    await activity.failed(transport.object, path, error);
    throw error;
  };
  const replaced: Partial<Transport> = {
    openFileWrite: (path) => transport.openFileWrite(path).catch(failed(path)),
    openFileRead: (path, offset) => transport.openFileRead(path, offset).catch(failed(path)),
  };
  return overriding(transport, replaced as Partial<T>);
}
