/**
 * The HTTP API client the CLI and the demo use when a service runs on the data dir: the same
 * routes, token and error shape as the PHP hook's client, over the unix socket (or a loopback
 * HOST:PORT). Errors come back as GdriveBackupError with the service's own sentence.
 */
import { Agent, request as httpRequest } from 'node:http';
import type { Config } from '../config/config.js';
import { formatObjectRef, type ObjectRef } from '../core/object-ref.js';
import type {
  AccountInfo,
  CheckResult,
  Entry,
  OAuthFinishInput,
  OAuthStartInput,
  Quota,
  WriteResult,
} from '../core/types.js';
import { ERRORS, type ErrorCode, GdriveBackupError } from '../errors/errors.js';
import { readApiToken } from './api-token.js';
import { loopbackAddress } from './serve-command.js';

export type ServiceEndpoint = { socketPath: string } | { host: string; port: number };

/** An error answered by the service, carrying the service's sentence and its params. */
export class ServiceError extends GdriveBackupError {
  constructor(
    code: ErrorCode,
    message: string,
    retryable: boolean,
    status: number,
    params: Record<string, string> = {},
  ) {
    super(code, params, { retryable });
    this.message = message;
    Object.defineProperty(this, 'status', { value: status });
  }
}

/** Where `serve` listens with this config: the same parsing (and loopback check) as serve's. */
function endpointOf(config: Config): ServiceEndpoint {
  return config.listen !== '' ? loopbackAddress(config.listen) : { socketPath: config.socketPath };
}

/**
 * The optional last argument of append and read: `onProgress` hears the bytes of this call
 * moved so far, as the engine sends or receives them (chunk by chunk in this process). Over
 * the HTTP API a call answers only when it is done, so there it is told once, at the end.
 */
export interface TransferProgress {
  onProgress?: (bytesInThisCall: number) => void;
}

/** The operations of the HTTP API, as the CLI and the demo use them (ServiceClient, or cli/backend.ts in-process). */
export interface Backend {
  /** 'service' when requests go over HTTP, 'in-process' otherwise (shown by `status`). */
  readonly mode: 'service' | 'in-process';
  account(object: ObjectRef): Promise<AccountInfo>;
  oauthStart(object: ObjectRef, input: OAuthStartInput): Promise<{ url: string }>;
  oauthFinish(object: ObjectRef, input: OAuthFinishInput): Promise<{ email: string }>;
  disconnect(object: ObjectRef): Promise<void>;
  check(object: ObjectRef): Promise<CheckResult>;
  quota(object: ObjectRef): Promise<Quota>;
  /** null when absent. */
  stat(object: ObjectRef, path: string): Promise<Entry | null>;
  list(object: ObjectRef, path: string): Promise<Entry[]>;
  createDir(object: ObjectRef, path: string): Promise<void>;
  deleteFile(object: ObjectRef, path: string): Promise<void>;
  deleteDir(object: ObjectRef, path: string): Promise<void>;
  openWrite(object: ObjectRef, path: string): Promise<string>;
  append(fd: string, localFile: string, options?: TransferProgress): Promise<number>;
  closeWrite(fd: string): Promise<WriteResult>;
  /** Drops an unfinished write: nothing is stored, the handle and its spool go. */
  cancelWrite(fd: string): Promise<void>;
  openRead(object: ObjectRef, path: string, offset: number): Promise<string>;
  read(fd: string, localFile: string, size: number | null, options?: TransferProgress): Promise<number>;
  closeRead(fd: string): Promise<void>;
  close(): Promise<void>;
}

export class ServiceClient implements Backend {
  readonly mode = 'service' as const;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });

  constructor(
    readonly endpoint: ServiceEndpoint,
    private readonly token: string,
  ) {}

  /**
   * A client for the service running on config's socket/listen address, or undefined when none
   * answers (ConfigError when listen is not a loopback address, as for `serve`).
   */
  static async find(config: Config): Promise<ServiceClient | undefined> {
    let token: string | undefined;
    try {
      token = await readApiToken(config.dataDir);
    } catch {
      return undefined;
    }
    if (token === undefined) return undefined;
    const client = new ServiceClient(endpointOf(config), token);
    try {
      await client.health();
      return client;
    } catch {
      await client.close();
      return undefined;
    }
  }

  /** Sends one request; resolves with the parsed JSON (undefined for empty answers). */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          ...('socketPath' in this.endpoint
            ? { socketPath: this.endpoint.socketPath }
            : { host: this.endpoint.host, port: this.endpoint.port }),
          agent: this.agent,
          method,
          path,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not the API's JSON (something else answers on the socket): the status says enough.
      parsed = undefined;
    }
    if (status >= 400) {
      const error = (
        parsed as
          | {
              error?: {
                code?: string;
                message?: string;
                retryable?: boolean;
                params?: Record<string, string>;
              };
            }
          | undefined
      )?.error;
      const code = (error?.code !== undefined && error.code in ERRORS ? error.code : 'internal') as ErrorCode;
      throw new ServiceError(
        code,
        error?.message ?? `The connector service answered HTTP ${status}.`,
        error?.retryable ?? false,
        status,
        error?.params ?? {},
      );
    }
    return parsed as T;
  }

  private objectPath(object: ObjectRef, rest: string): string {
    return `/v1/objects/${encodeURIComponent(formatObjectRef(object))}/${rest}`;
  }

  private static query(path: string): string {
    return `?path=${encodeURIComponent(path)}`;
  }

  health(): Promise<{ ok: boolean; version: string }> {
    return this.call('GET', '/v1/health');
  }

  account(object: ObjectRef): Promise<AccountInfo> {
    return this.call('GET', this.objectPath(object, 'account'));
  }

  oauthStart(object: ObjectRef, input: OAuthStartInput): Promise<{ url: string }> {
    return this.call('POST', this.objectPath(object, 'oauth/start'), input);
  }

  oauthFinish(object: ObjectRef, input: OAuthFinishInput): Promise<{ email: string }> {
    return this.call('POST', this.objectPath(object, 'oauth/finish'), input);
  }

  async disconnect(object: ObjectRef): Promise<void> {
    await this.call('DELETE', this.objectPath(object, 'account'));
  }

  check(object: ObjectRef): Promise<CheckResult> {
    return this.call('POST', this.objectPath(object, 'check'));
  }

  quota(object: ObjectRef): Promise<Quota> {
    return this.call('GET', this.objectPath(object, 'quota'));
  }

  async stat(object: ObjectRef, path: string): Promise<Entry | null> {
    try {
      return await this.call<Entry>('GET', this.objectPath(object, `stat${ServiceClient.query(path)}`));
    } catch (error) {
      if (error instanceof GdriveBackupError && error.code === 'not_found') return null;
      throw error;
    }
  }

  list(object: ObjectRef, path: string): Promise<Entry[]> {
    return this.call('GET', this.objectPath(object, `list${ServiceClient.query(path)}`));
  }

  async createDir(object: ObjectRef, path: string): Promise<void> {
    await this.call('POST', this.objectPath(object, 'dirs'), { path });
  }

  async deleteFile(object: ObjectRef, path: string): Promise<void> {
    await this.call('DELETE', this.objectPath(object, `files${ServiceClient.query(path)}`));
  }

  async deleteDir(object: ObjectRef, path: string): Promise<void> {
    await this.call('DELETE', this.objectPath(object, `dirs${ServiceClient.query(path)}`));
  }

  async openWrite(object: ObjectRef, path: string): Promise<string> {
    return (await this.call<{ fd: string }>('POST', this.objectPath(object, 'writes'), { path })).fd;
  }

  /** The API answers once the piece is sent: progress is told then, with the whole piece. */
  async append(fd: string, localFile: string, options?: TransferProgress): Promise<number> {
    const { bytes } = await this.call<{ bytes: number }>(
      'POST',
      `/v1/writes/${encodeURIComponent(fd)}/append`,
      {
        localFile,
      },
    );
    options?.onProgress?.(bytes);
    return bytes;
  }

  closeWrite(fd: string): Promise<WriteResult> {
    return this.call('POST', `/v1/writes/${encodeURIComponent(fd)}/close`);
  }

  async cancelWrite(fd: string): Promise<void> {
    await this.call('POST', `/v1/writes/${encodeURIComponent(fd)}/cancel`);
  }

  async openRead(object: ObjectRef, path: string, offset: number): Promise<string> {
    return (await this.call<{ fd: string }>('POST', this.objectPath(object, 'reads'), { path, offset })).fd;
  }

  async read(
    fd: string,
    localFile: string,
    size: number | null,
    options?: TransferProgress,
  ): Promise<number> {
    const { bytes } = await this.call<{ bytes: number }>('POST', `/v1/reads/${encodeURIComponent(fd)}/read`, {
      localFile,
      size,
    });
    options?.onProgress?.(bytes);
    return bytes;
  }

  async closeRead(fd: string): Promise<void> {
    await this.call('POST', `/v1/reads/${encodeURIComponent(fd)}/close`);
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
