/**
 * The loopback redirect listener of `connect` (and of the demo): Google sends the browser to
 * http://127.0.0.1:<port>/callback with `code` + `state` (or `error` + `state`); we hand that to
 * oauth/finish, answer the browser with a small page and report the outcome. Only loopback:
 * the code is worth a refresh token until it is used.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CallbackAnswer {
  state: string;
  code?: string;
  error?: string;
}

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
  finish: (answer: CallbackAnswer) => Promise<{ email: string }>,
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
    const answer: CallbackAnswer = { state };
    if (code !== null) answer.code = code;
    else answer.error = error ?? 'no code in the answer';
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
