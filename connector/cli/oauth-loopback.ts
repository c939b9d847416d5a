/**
 * The way back from Google's consent page for `connect` (and the demo, the bench, tests).
 *
 * Google sends the browser to the redirect URI, http://127.0.0.1:<port>/oauth2callback, with
 * `code` + `state` (or `error` + `state`). Two ways bring that answer to oauth/finish:
 * - the loopback listener, when the browser runs on this machine (or reaches it through an SSH
 *   tunnel, `ssh -L <port>:127.0.0.1:<port>`, as rclone documents for its fixed port 53682);
 * - the pasted address (headless): on a server the browser runs elsewhere and fails to load
 *   127.0.0.1 there, but its address bar holds the whole answer; the admin pastes it.
 * Whichever comes first is used once. Only loopback: the code is worth a refresh token until used.
 *
 * A "Web application" OAuth client accepts only registered redirect URIs, so the port must be
 * fixed and registered; a "Desktop app" client accepts any loopback port
 * (shared/reference/google-drive-facts.md, "Redirect URIs").
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ObjectRef } from '../core/object-ref.js';
import type { OAuthFinishInput } from '../core/types.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Backend } from './backend.js';

export const OAUTH_CALLBACK_PATH = '/oauth2callback';

/** The redirect URI `connect` uses on `port` (the one to register for a Web application client). */
export function loopbackRedirectUri(port: number): string {
  return `http://127.0.0.1:${port}${OAUTH_CALLBACK_PATH}`;
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

/** Google's answer in a callback query: code or error, with the state. */
function answerOf(query: URLSearchParams): OAuthFinishInput | null {
  const state = query.get('state');
  if (state === null) return null;
  const code = query.get('code');
  if (code !== null) return { state, code };
  return { state, error: query.get('error') ?? 'no code in the answer' };
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
    const answer = answerOf(url.searchParams);
    if (req.method !== 'GET' || url.pathname !== OAUTH_CALLBACK_PATH || answer === null || answered) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page('Not found', 'This address only takes Google\'s answer to "gdrive-backup connect".'));
      return;
    }
    answered = true;
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
    redirectUri: loopbackRedirectUri(bound),
    result,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Google's answer in what an admin pasted: the whole address the browser ended on (quotes and
 * angle brackets around it are dropped), or just its query. Null when it holds no answer.
 */
export function parsePastedAddress(text: string): OAuthFinishInput | null {
  const pasted = text.trim().replace(/^["'<]+|["'>]+$/g, '');
  if (pasted === '') return null;
  const at = pasted.indexOf('?');
  if (at < 0 && !/(^|&)state=/.test(pasted)) return null;
  const query = at < 0 ? pasted : pasted.slice(at + 1).split('#')[0]!;
  return answerOf(new URLSearchParams(query));
}

/** The two OAuth calls of the connector, in-process or over HTTP (ServiceClient). */
export type OAuthApi = Pick<Backend, 'oauthStart' | 'oauthFinish'>;

export interface ConnectOptions {
  /** Loopback port of the listener and of the redirect URI; 0 = any free port. */
  port?: number;
  name?: string;
  folder?: string;
  /** Give up after this long without Google's answer (the state lives 10 minutes). */
  timeoutMs?: number;
  /** Lines the admin pastes (headless): the first address with this sign-in's state is used. */
  pasted?: AsyncIterable<string>;
  /**
   * The browser is on another machine: a port that cannot be listened on is no reason to stop
   * (the paste brings the answer), and the end of `pasted` without an answer is.
   */
  headless?: boolean;
  /** Tells the admin about a paste that was not used, or a port that is busy. */
  notice?: (text: string) => void;
}

/**
 * The whole redirect flow: listener up, consent URL from oauth/start, `visit` takes the user
 * (or, with the sandbox, a plain fetch) there, Google's answer comes back to the listener or is
 * pasted, and goes to oauth/finish once. Returns the account e-mail.
 */
export async function connectThroughLoopback(
  api: OAuthApi,
  object: ObjectRef,
  options: ConnectOptions,
  visit: (consentUrl: string, redirectUri: string) => Promise<void>,
): Promise<{ email: string }> {
  const port = options.port ?? 0;
  const notice = options.notice ?? (() => {});
  let settle!: { resolve: (v: { email: string }) => void; reject: (e: unknown) => void };
  const outcome = new Promise<{ email: string }>((resolve, reject) => {
    settle = { resolve, reject };
  });
  outcome.catch(() => {});
  let finishing: Promise<{ email: string }> | undefined;
  const deliver = (answer: OAuthFinishInput): Promise<{ email: string }> => {
    if (!finishing) {
      finishing = api.oauthFinish(object, answer);
      finishing.then(settle.resolve, settle.reject);
    }
    return finishing;
  };

  let callback: LoopbackCallback | undefined;
  try {
    callback = await startLoopbackCallback(port, deliver);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'it is in use' : 'cannot listen';
    if (!options.headless || !options.pasted || port === 0) {
      throw new GdriveBackupError('connect_port_unavailable', { port: String(port), reason });
    }
    notice(`Port ${port} cannot be listened on here (${reason}); paste the address instead.`);
  }
  const redirectUri = callback?.redirectUri ?? loopbackRedirectUri(port);
  let timer: NodeJS.Timeout | undefined;
  try {
    const { url } = await api.oauthStart(object, {
      redirectUri,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.folder === undefined ? {} : { folder: options.folder }),
    });
    const state = new URL(url).searchParams.get('state');
    await visit(url, redirectUri);
    if (options.pasted) {
      readPasted(options.pasted, state, deliver, notice).then(
        (used) => {
          if (!used && !callback) settle.reject(new GdriveBackupError('connect_no_answer', { redirectUri }));
        },
        (error: unknown) => settle.reject(error),
      );
    }
    if (options.timeoutMs === undefined) return await outcome;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GdriveBackupError('oauth_state_invalid')), options.timeoutMs);
    });
    return await Promise.race([outcome, expired]);
  } finally {
    if (timer) clearTimeout(timer);
    await callback?.close();
  }
}

/**
 * Hands the first pasted answer that carries `state` to `deliver`; says why any other line was
 * not used. Resolves true once an answer was handed over, false when the lines ended first.
 */
async function readPasted(
  lines: AsyncIterable<string>,
  state: string | null,
  deliver: (answer: OAuthFinishInput) => Promise<unknown>,
  notice: (text: string) => void,
): Promise<boolean> {
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const answer = parsePastedAddress(line);
    if (answer === null) {
      notice('That is not the address the browser ended on (it holds code= and state=); paste it again.');
      continue;
    }
    if (answer.state !== state) {
      notice('That address belongs to another sign-in (its state differs); paste the one of this sign-in.');
      continue;
    }
    deliver(answer).catch(() => {}); // the outcome reports it
    return true;
  }
  return false;
}

/** The "browser" of the demo, the bench and tests: the sandbox's consent page redirects at once. */
export async function followConsentUrl(url: string): Promise<void> {
  await (await fetch(url)).arrayBuffer();
}
