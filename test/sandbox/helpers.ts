// Shared by the sandbox tests: a started sandbox, a live access token, and thin fetch wrappers.
// Deliberately plain fetch (undici), not the product's client, so these tests prove the
// sandbox and nothing else.
import { type Sandbox, type SandboxOptions, startSandbox } from '../../connector/sandbox/drive-sandbox.js';

export const FOLDER = 'application/vnd.google-apps.folder';
export const SCOPE_FILE = 'https://www.googleapis.com/auth/drive.file';
export const SCOPE_FULL = 'https://www.googleapis.com/auth/drive';
export const KIB256 = 256 * 1024;

export interface Harness {
  sandbox: Sandbox;
  token: string;
  refreshToken: string;
  api: (path: string, init?: RequestInit) => Promise<Response>;
  json: <T = Record<string, unknown>>(
    path: string,
    init?: RequestInit,
  ) => Promise<{ status: number; body: T }>;
  close: () => Promise<void>;
}

/** POSTs a form to the token endpoint; the answer's status and JSON body. */
export async function tokenRequest(
  sandbox: Sandbox,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(sandbox.env.GDRIVE_OAUTH_TOKEN_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The refresh_token grant, by the sandbox's own client unless another is named. */
export function accessToken(
  sandbox: Sandbox,
  refreshToken: string,
  client = { id: sandbox.env.GDRIVE_CLIENT_ID, secret: sandbox.env.GDRIVE_CLIENT_SECRET },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return tokenRequest(sandbox, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: client.id,
    client_secret: client.secret,
  });
}

export async function tokenFor(
  sandbox: Sandbox,
  scope = SCOPE_FILE,
): Promise<{ token: string; refreshToken: string }> {
  const refreshToken = sandbox.issueRefreshToken({ scope });
  const { body } = await accessToken(sandbox, refreshToken);
  return { token: body.access_token as string, refreshToken };
}

export function bearer(token: string, headers: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...headers };
}

export async function harness(options: SandboxOptions = {}, scope = SCOPE_FILE): Promise<Harness> {
  const sandbox = await startSandbox(options);
  const { token, refreshToken } = await tokenFor(sandbox, scope);
  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(new URL(path, sandbox.url), {
      ...init,
      headers: { ...bearer(token), ...((init.headers as Record<string, string> | undefined) ?? {}) },
    });
  const json = async <T = Record<string, unknown>>(
    path: string,
    init: RequestInit = {},
  ): Promise<{ status: number; body: T }> => {
    const res = await api(path, init);
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  };
  return { sandbox, token, refreshToken, api, json, close: () => sandbox.close() };
}

export function jsonBody(value: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

export async function createFolder(h: Harness, name: string, parent = 'root', query = ''): Promise<string> {
  const { status, body } = await h.json<{ id: string }>(`drive/v3/files${query}`, {
    ...jsonBody({ name, mimeType: FOLDER, parents: [parent] }),
  });
  if (status !== 200) throw new Error(`create folder ${name}: ${status} ${JSON.stringify(body)}`);
  return body.id;
}

/** Starts a resumable session; returns its URI. */
export async function startUpload(
  h: Harness,
  metadata: Record<string, unknown>,
  query = '',
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await h.api(`upload/drive/v3/files?uploadType=resumable${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=UTF-8', ...headers },
    body: JSON.stringify(metadata),
  });
  if (res.status !== 200) throw new Error(`start upload: ${res.status} ${await res.text()}`);
  return res.headers.get('location')!;
}

export function putChunk(h: Harness, session: string, range: string, body: Uint8Array): Promise<Response> {
  return fetch(session, {
    method: 'PUT',
    headers: bearer(h.token, { 'content-range': range }),
    body,
  });
}

/** Uploads `data` (at least one byte) in one resumable PUT; returns the new file's id. */
export async function uploadFile(h: Harness, name: string, data: Buffer): Promise<string> {
  const session = await startUpload(h, { name }, '&fields=id');
  const res = await putChunk(h, session, `bytes 0-${data.length - 1}/${data.length}`, data);
  if (res.status !== 200) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Deterministic test bytes. */
export function pattern(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (let i = size - (size % 4); i < size; i += 1) out[i] = i & 0xff;
  return out;
}
