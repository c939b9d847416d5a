/**
 * What a CLI command (and the demo) talks to: the HTTP API of a running service
 * (service/service-client.ts) or, when none runs on the data dir, a connector in this process.
 * Both answer the same operations (Backend), named like the routes of the design's HTTP API.
 */
import type { Backend, TransferProgress } from '../service/service-client.js';
import type { Connector } from '../transport/types.js';

export type { Backend, TransferProgress } from '../service/service-client.js';

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
