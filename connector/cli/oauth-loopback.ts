/**
 * The loopback redirect listener of `connect` (and of the demo): Google sends the browser to
 * http://127.0.0.1:<port>/callback with `code` + `state` (or `error` + `state`); we hand that to
 * oauth/finish, answer the browser with a small page and report the outcome. Only loopback:
 * the code is worth a refresh token until it is used.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GdriveBackupError } from '../errors/errors.js';
import type { ObjectRef } from '../transport/object-ref.js';
import type { OAuthFinishInput } from '../transport/types.js';
import type { Backend } from './backend.js';

export interface LoopbackCallback {
  readonly redirectUri: string;
  /** Settles with finish()'s result once the callback came (rejects when finish failed). */
  readonly result: Promise<{ email: string }>;
  close(): Promise<void>;
}

function page(title: string, text: string): string {
  const escapeHtml = (s: string) =>
    s.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
    );
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;margin:3em"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
}

export async function startLoopbackCallback(
  port: number,
  finish: (answer: OAuthFinishInput) => Promise<{ email: string }>,
): Promise<LoopbackCallback> {
  let settle!: { resolve: (v: { email: string }) => void; reject: (e: unknown) => void };
  const result = new Promise<{ email: string }>((resolve, reject) => {
    settle = { resolve, reject };
  });
  result.catch(() => {}); // observed by the caller; avoid an unhandled rejection before it awaits
  let answered = false;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const state = url.searchParams.get('state');
    if (req.method !== 'GET' || url.pathname !== '/callback' || state === null || answered) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page('Not found', 'This address only takes Google\'s answer to "gdrive-backup connect".'));
      return;
    }
    answered = true;
    const code = url.searchParams.get('code');
    const error = url.searchParams.get('error');
    const answer: OAuthFinishInput =
      code !== null ? { state, code } : { state, error: error ?? 'no code in the answer' };
    finish(answer).then(
      (done) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page('Google Drive is connected', `Connected as ${done.email}. You can close this tab.`));
        settle.resolve(done);
      },
      (failure: unknown) => {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          page('Google Drive is not connected', failure instanceof Error ? failure.message : String(failure)),
        );
        settle.reject(failure);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    redirectUri: `http://127.0.0.1:${bound}/callback`,
    result,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The two OAuth calls of the connector, in-process or over HTTP (ServiceClient). */
export type OAuthApi = Pick<Backend, 'oauthStart' | 'oauthFinish'>;

export interface ConnectOptions {
  /** Loopback port of the listener; 0 = any free port. */
  port?: number;
  name?: string;
  folder?: string;
  /** Give up after this long without Google's answer (the state lives 10 minutes). */
  timeoutMs?: number;
}

/**
 * The whole redirect flow: listener up, consent URL from oauth/start, `visit` takes the user
 * (or, with the sandbox, a plain fetch) there, Google's answer comes back to the listener and
 * goes to oauth/finish. Returns the account e-mail.
 */
export async function connectThroughLoopback(
  api: OAuthApi,
  object: ObjectRef,
  options: ConnectOptions,
  visit: (consentUrl: string, redirectUri: string) => Promise<void>,
): Promise<{ email: string }> {
  const callback = await startLoopbackCallback(options.port ?? 0, (answer) =>
    api.oauthFinish(object, answer),
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    const { url } = await api.oauthStart(object, {
      redirectUri: callback.redirectUri,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.folder === undefined ? {} : { folder: options.folder }),
    });
    await visit(url, callback.redirectUri);
    if (options.timeoutMs === undefined) return await callback.result;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GdriveBackupError('oauth_state_invalid')), options.timeoutMs);
    });
    return await Promise.race([callback.result, expired]);
  } finally {
    if (timer) clearTimeout(timer);
    await callback.close();
  }
}

/** The "browser" of the demo, the bench and tests: the sandbox's consent page redirects at once. */
export async function followConsentUrl(url: string): Promise<void> {
  await (await fetch(url)).arrayBuffer();
}
