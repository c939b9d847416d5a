/**
 * What a CLI command (and the demo) talks to: the HTTP API of a running service
 * (service-client.ts) or, when none runs on the data dir, a connector in this process.
 * Both answer the same operations, named like the routes of the design's HTTP API.
 */
import type { ObjectRef } from '../transport/object-ref.js';
import type {
  AccountInfo,
  CheckResult,
  Connector,
  Entry,
  OAuthFinishInput,
  OAuthStartInput,
  Quota,
  WriteResult,
} from '../transport/types.js';

/**
 * The optional last argument of append and read: `onProgress` hears the bytes of this call
 * moved so far, as the engine sends or receives them (chunk by chunk in this process). Over
 * the HTTP API a call answers only when it is done, so there it is told once, at the end.
 */
export interface TransferProgress {
  onProgress?: (bytesInThisCall: number) => void;
}

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

/** The in-process backend: the connector itself (it holds the data dir's lock until close). */
export function inProcessBackend(connector: Connector): Backend {
  // The engine takes the same { onProgress } as its optional last argument.
  const handles: {
    appendFile(fd: string, localFile: string, options?: TransferProgress): Promise<number>;
    readFile(fd: string, localFile: string, size: number | null, options?: TransferProgress): Promise<number>;
  } = connector;
  return {
    mode: 'in-process',
    account: (object) => connector.transport(object).account(),
    oauthStart: (object, input) => connector.oauth.start(object, input),
    oauthFinish: (object, input) => connector.oauth.finish(object, input),
    disconnect: (object) => connector.oauth.disconnect(object),
    check: (object) => connector.transport(object).check(),
    quota: (object) => connector.transport(object).getQuota(),
    stat: (object, path) => connector.transport(object).stat(path),
    list: (object, path) => connector.transport(object).listDir(path),
    createDir: (object, path) => connector.transport(object).createDir(path),
    deleteFile: (object, path) => connector.transport(object).deleteFile(path),
    deleteDir: (object, path) => connector.transport(object).deleteDir(path),
    openWrite: (object, path) => connector.transport(object).openFileWrite(path),
    append: (fd, localFile, options) => handles.appendFile(fd, localFile, options),
    closeWrite: (fd) => connector.closeWrite(fd),
    cancelWrite: (fd) => connector.cancelWrite(fd),
    openRead: (object, path, offset) => connector.transport(object).openFileRead(path, offset),
    read: (fd, localFile, size, options) => handles.readFile(fd, localFile, size, options),
    closeRead: (fd) => connector.closeRead(fd),
    close: () => connector.close(),
  };
}
