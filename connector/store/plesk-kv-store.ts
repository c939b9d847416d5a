/**
 * A keyv store adapter over Plesk's encrypted Key-Value Storage (`pm_Settings`).
 *
 * The connector cannot reach pm_Settings itself: it lives in Plesk's PHP runtime. So every
 * operation runs the extension's bridge script (`extension/plib/scripts/kv.php`, started by
 * `config.pleskKvCommand`, by default `plesk ext gdrive-backup kv`) with one JSON request
 * on stdin and reads one JSON answer from stdout. The command is split into argv here and run
 * without a shell, so nothing in it is ever interpreted twice.
 *
 * What keyv gives is stored as is: its serialized string already carries the expiry, so the
 * TTL argument needs no handling here. Values are refused above 5000 characters, Plesk's limit
 * for one value, before a process is started. Failures become `secrets_unavailable` (retryable)
 * or `secret_too_large`; no value ever appears in an error or a log.
 *
 * Calls on one command run one after another, process-wide: the bridge keeps its key index with
 * a read-modify-write of pm_Settings, which two bridge processes running at once could undo.
 * (One connector process owns a data directory, so this queue is the only writer.)
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import type { Config } from '../config/config.js';
import { GdriveBackupError } from '../errors/errors.js';

/** Plesk's limit on one pm_Settings value, in characters. */
export const PLESK_KV_MAX_VALUE_LENGTH = 5000;

const DEFAULT_TIMEOUT_MS = 30_000;
/** Answers are small (values of 5000 characters at most); more output means something is wrong. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export interface PleskKvStoreOptions {
  /** Overrides `config.pleskKvCommand`. */
  command?: string;
  /** Environment of the bridge process (default: the connector's). */
  env?: NodeJS.ProcessEnv;
  /** How long one bridge run may take before it is killed (default 30 s). */
  timeoutMs?: number;
}

/** Splits a command line into argv like a POSIX shell would, without expanding anything. */
export function splitCommand(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else current += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) current += line[++i];
      else current += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === '\\') {
      if (i + 1 >= line.length) throw new Error('the command ends with a lone backslash');
      current += line[++i];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) args.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (quote) throw new Error(`the command has an unclosed ${quote} quote`);
  if (inWord) args.push(current);
  if (args.length === 0) throw new Error('the command is empty');
  return args;
}

type BridgeRequest =
  | { op: 'get' | 'has' | 'delete'; key: string }
  | { op: 'getMany' | 'hasMany' | 'deleteMany'; keys: string[] }
  | { op: 'set'; key: string; value: string }
  | { op: 'setMany'; entries: Array<{ key: string; value: string }> }
  | { op: 'clear'; namespace: string | null };

type Answer = Record<string, unknown>;

const queues = new Map<string, Promise<void>>();

/** Runs `task` after every earlier task queued under `key` has settled. */
function inTurn<T>(key: string, task: () => Promise<T>): Promise<T> {
  const run = (queues.get(key) ?? Promise.resolve()).then(task);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

function unavailable(detail: string, cause?: unknown): GdriveBackupError {
  return new GdriveBackupError(
    'secrets_unavailable',
    { detail },
    cause === undefined ? undefined : { cause },
  );
}

/** The last non-empty line of the output: `plesk ext` may print notices before the answer. */
function parseAnswer(stdout: string): Answer | undefined {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .pop();
  if (line === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Answer)
      : undefined;
  } catch {
    return undefined;
  }
}

function bridgeError(answer: Answer): GdriveBackupError | undefined {
  const error = answer.error;
  if (error === undefined) return undefined;
  const { code, message, size } = (error ?? {}) as { code?: unknown; message?: unknown; size?: unknown };
  if (code === 'secret_too_large' && typeof size === 'number')
    return new GdriveBackupError('secret_too_large', { size });
  const text = typeof message === 'string' ? message.replace(/\.$/, '') : 'no message';
  return unavailable(`the bridge answered ${String(code)}: ${text}`);
}

function lastLine(text: string): string {
  const line = text.trim().split('\n').pop()?.trim() ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

function runBridge(
  argv: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  request: BridgeRequest,
): Promise<Answer> {
  const program = argv[0]!;
  return new Promise<Answer>((resolve, reject) => {
    const child = spawn(program, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let outputBytes = 0;
    let failure: GdriveBackupError | undefined;
    const fail = (error: GdriveBackupError): void => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => fail(unavailable(`"${program}" gave no answer within ${Math.ceil(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    const collect = (chunks: Buffer[]) => (chunk: Buffer) => {
      outputBytes += chunk.length;
      if (outputBytes > MAX_OUTPUT_BYTES) fail(unavailable(`"${program}" printed more than expected`));
      else chunks.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    // A bridge that exits without reading stdin makes the write fail; its exit says more.
    child.stdin.on('error', () => {});
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(failure ?? unavailable(`cannot run "${program}" (${error.code ?? error.message})`, error));
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      const answer = parseAnswer(Buffer.concat(stdout).toString('utf8'));
      const refused = answer && bridgeError(answer);
      if (refused) return reject(refused);
      if (answer && status === 0) return resolve(answer);
      const how = signal ? `was killed by ${signal}` : `exited with code ${status}`;
      const said = lastLine(Buffer.concat(stderr).toString('utf8'));
      reject(unavailable(`"${program}" ${how} without an answer${said ? `: ${said}` : ''}`));
    });
    child.stdin.end(JSON.stringify(request));
  });
}

function characters(value: string): number {
  // Code units never undercount code points, so short strings need no walk.
  if (value.length <= PLESK_KV_MAX_VALUE_LENGTH) return value.length;
  let count = 0;
  for (const _ of value) count++;
  return count;
}

function checkedValue(value: unknown): string {
  if (typeof value !== 'string') {
    throw new TypeError(
      "The Plesk Key-Value Storage keeps strings: keep keyv's serializer on for this store.",
    );
  }
  const size = characters(value);
  if (size > PLESK_KV_MAX_VALUE_LENGTH) throw new GdriveBackupError('secret_too_large', { size });
  return value;
}

function unexpected(op: string): GdriveBackupError {
  return unavailable(`the bridge gave an unexpected answer to ${op}`);
}

class PleskKvStore extends EventEmitter implements KeyvStoreAdapter {
  /** keyv (and its test suite) read and write `opts`; the adapter keeps its own settings apart. */
  // biome-ignore lint/suspicious/noExplicitAny: keyv declares `opts: any` and assigns to it freely.
  opts: any;
  namespace?: string;
  readonly #argv: string[];
  readonly #env: NodeJS.ProcessEnv;
  readonly #timeoutMs: number;
  readonly #queueKey: string;

  constructor(command: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
    super();
    try {
      this.#argv = splitCommand(command);
    } catch (error) {
      throw unavailable(
        `the Plesk Key-Value Storage command cannot be used: ${(error as Error).message}`,
        error,
      );
    }
    this.#env = env;
    this.#timeoutMs = timeoutMs;
    this.#queueKey = this.#argv.join('\0');
    this.opts = { dialect: 'plesk-kv', command };
  }

  #call(request: BridgeRequest): Promise<Answer> {
    return inTurn(this.#queueKey, () => runBridge(this.#argv, this.#env, this.#timeoutMs, request));
  }

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    const { value } = await this.#call({ op: 'get', key });
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'string') throw unexpected('get');
    // keyv deserializes the string it stored; the adapter hands it back untouched.
    return value as StoredData<Value>;
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    if (keys.length === 0) return [];
    const { values } = await this.#call({ op: 'getMany', keys });
    if (!Array.isArray(values) || values.length !== keys.length) throw unexpected('getMany');
    return values.map((value: unknown) => {
      if (value === null) return undefined;
      if (typeof value !== 'string') throw unexpected('getMany');
      return value as StoredData<Value | undefined>;
    });
  }

  async has(key: string): Promise<boolean> {
    const { has } = await this.#call({ op: 'has', key });
    if (typeof has !== 'boolean') throw unexpected('has');
    return has;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const { has } = await this.#call({ op: 'hasMany', keys });
    if (!Array.isArray(has) || has.length !== keys.length) throw unexpected('hasMany');
    return has.map((h: unknown) => h === true);
  }

  async set(key: string, value: unknown, _ttl?: number): Promise<boolean> {
    await this.#call({ op: 'set', key, value: checkedValue(value) });
    return true;
  }

  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    if (entries.length === 0) return;
    const checked = entries.map(({ key, value }) => ({ key, value: checkedValue(value) }));
    await this.#call({ op: 'setMany', entries: checked });
  }

  async delete(key: string): Promise<boolean> {
    const { deleted } = await this.#call({ op: 'delete', key });
    if (typeof deleted !== 'boolean') throw unexpected('delete');
    return deleted;
  }

  /** True when every key was there, like keyv's own fallback. */
  async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return true;
    const { deleted } = await this.#call({ op: 'deleteMany', keys });
    if (!Array.isArray(deleted) || deleted.length !== keys.length) throw unexpected('deleteMany');
    return deleted.every((d: unknown) => d === true);
  }

  /** Removes the keys of this store's namespace (keyv prefixes keys with `namespace:`), or all. */
  async clear(): Promise<void> {
    await this.#call({ op: 'clear', namespace: this.namespace ?? null });
  }

  async disconnect(): Promise<void> {}
}

/** The keyv store over Plesk's Key-Value Storage, reached through `config.pleskKvCommand`. */
export function createPleskKvStore(
  config: Pick<Config, 'pleskKvCommand'>,
  options: PleskKvStoreOptions = {},
): KeyvStoreAdapter {
  return new PleskKvStore(
    options.command ?? config.pleskKvCommand,
    options.env ?? process.env,
    options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  );
}
