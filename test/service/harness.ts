// Shared by the service tests: raw HTTP over the socket, the OAuth dance, file hashes.
import { request } from 'node:http';
import { connectThroughLoopback, followConsentUrl } from '../../connector/cli/oauth-loopback.js';
import type { ObjectRef } from '../../connector/core/object-ref.js';
import type { ServiceClient } from '../../connector/service/service-client.js';

// The hashes the tests compare with: the shared helpers' own.
export { md5, sha256, sha256File } from '../helpers/test-env.js';

export interface RawAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** One request with full control over token, body and content type. */
export function raw(
  socketPath: string,
  method: string,
  path: string,
  options: { token?: string; body?: string; contentType?: string } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = request({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The real OAuth code flow, as `connect` does it: start, the sandbox approves, loopback callback, finish. */
export async function connectObject(
  client: ServiceClient,
  object: ObjectRef,
  name?: string,
  folder?: string,
): Promise<string> {
  return (await connectThroughLoopback(client, object, { name, folder }, followConsentUrl)).email;
}
