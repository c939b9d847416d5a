/**
 * A local HTTPS proxy that lets a real Google client whose hosts are fixed (rclone's drive
 * backend calls https://www.googleapis.com/ and https://oauth2.googleapis.com/token) talk to the
 * sandbox. The client gets `HTTPS_PROXY=<url>` and trusts `caFile`; each CONNECT to one of the
 * Google hosts is answered by a TLS server holding a certificate for those hosts, signed by a
 * throwaway CA that openssl makes in a temp dir at start. Every request inside the tunnel is
 * passed on to the sandbox as it came (method, path, headers, body) and every answer back as
 * the sandbox gave it: the proxy rewrites nothing, so what the client sees is what the sandbox says.
 *
 * Used by the rclone interop test (test/interop/rclone.test.ts) and by the benchmark against
 * rclone, hence in the product bundle; it needs `openssl` on the PATH. Start the sandbox with
 * `publicUrl: 'https://www.googleapis.com/'` (`gdrive-backup sandbox --public-url ...`) so its
 * session URIs lead back through the proxy, and give rclone `--ca-cert <caFile>` and
 * `HTTPS_PROXY=<url>`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The hosts a Drive client calls; the certificate names all of them. */
export const GOOGLE_HOSTS = ['www.googleapis.com', 'oauth2.googleapis.com', 'accounts.google.com'];

/** One answer of the target, as the proxy saw it pass. */
export interface ProxiedExchange {
  method: string;
  host: string;
  path: string;
  status: number;
  /** The first 2 KiB of the answer body when its status is 400 or more (for the log). */
  errorBody?: string;
}

export interface TlsProxy {
  /** `http://127.0.0.1:PORT` for HTTPS_PROXY. */
  readonly url: string;
  /** PEM of the throwaway CA, for the client's trust store (`rclone --ca-cert`). */
  readonly caFile: string;
  /** Every exchange passed on so far, in the order the answers arrived. */
  readonly exchanges: ProxiedExchange[];
  close(): Promise<void>;
}

export interface TlsProxyOptions {
  /** Where requests go, e.g. the sandbox's `http://127.0.0.1:PORT/`. */
  target: string;
  /** Hosts whose CONNECT is terminated; default GOOGLE_HOSTS. Others are refused with 403. */
  hosts?: string[];
}

/** A CA and a server certificate for `hosts`, made by openssl in `dir` (P-256 keys: fast to make). */
async function makeCertificates(
  dir: string,
  hosts: string[],
): Promise<{ ca: string; key: string; cert: string }> {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const cert = join(dir, 'server.pem');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    caKey,
    '-out',
    ca,
    '-subj',
    '/CN=gdrive-backup interop test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-CA',
    ca,
    '-CAkey',
    caKey,
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    `/CN=${hosts[0]}`,
    '-addext',
    `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}`,
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'extendedKeyUsage=serverAuth',
  ]);
  return { ca, key, cert };
}

export async function startTlsProxy(options: TlsProxyOptions): Promise<TlsProxy> {
  const hosts = options.hosts ?? GOOGLE_HOSTS;
  const target = new URL(options.target);
  const dir = await mkdtemp(join(tmpdir(), 'gdrive-tls-proxy-'));
  const files = await makeCertificates(dir, hosts);
  const secureContext = createSecureContext({
    key: await readFile(files.key),
    cert: await readFile(files.cert),
  });
  const exchanges: ProxiedExchange[] = [];
  const upstream = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  // Requests that arrive inside a tunnel, already decrypted.
  const inner = createServer((req: IncomingMessage, res: ServerResponse) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const out = request(
      {
        protocol: target.protocol,
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: upstream,
      },
      (answer) => {
        const status = answer.statusCode ?? 0;
        const seen: ProxiedExchange = { method: req.method ?? '', host, path: req.url ?? '', status };
        if (status >= 400) {
          const head: Buffer[] = [];
          let size = 0;
          answer.on('data', (d: Buffer) => {
            if (size < 2048) head.push(d);
            size += d.length;
          });
          answer.on('end', () => {
            seen.errorBody = Buffer.concat(head).toString('utf8').slice(0, 2048);
            exchanges.push(seen);
          });
        } else {
          answer.on('end', () => exchanges.push(seen));
        }
        res.writeHead(status, answer.statusMessage, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.on('error', () => out.destroy());
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  });
  inner.requestTimeout = 0;

  const outer: Server = createServer((_req, res) => {
    res.writeHead(405, { 'content-type': 'text/plain' });
    res.end('This proxy only tunnels (CONNECT).\n');
  });
  outer.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const [host, port] = (req.url ?? '').split(':');
    if (!host || !hosts.includes(host) || (port !== undefined && port !== '443')) {
      client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) client.unshift(head);
    const tls = new TLSSocket(client, { isServer: true, secureContext });
    tls.on('error', () => client.destroy());
    inner.emit('connection', tls);
  });
  await new Promise<void>((resolve, reject) => {
    outer.once('error', reject);
    outer.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = outer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    caFile: files.ca,
    exchanges,
    close: async () => {
      const closed = new Promise<void>((resolve) => outer.close(() => resolve()));
      for (const s of sockets) s.destroy();
      outer.closeAllConnections();
      inner.closeAllConnections();
      upstream.destroy();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
