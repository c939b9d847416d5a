/**
 * Plain-fetch access to the sandbox's Drive API "behind the connector's back": items made or
 * deleted here are what another client (or a person in the Drive UI) would do. Uses the same
 * OAuth client as the connector, so drive.file visibility holds both ways.
 */
import type { Sandbox } from '../../connector/sandbox/drive-sandbox.js';

export const FOLDER_MIME = 'application/vnd.google-apps.folder';

export interface SandboxDrive {
  createFolder(parentId: string, name: string, driveId?: string): Promise<string>;
  /** An empty (metadata-only) file. */
  createFile(parentId: string, name: string, driveId?: string): Promise<string>;
  delete(id: string): Promise<void>;
  trash(id: string): Promise<void>;
}

export async function sandboxDrive(sandbox: Sandbox): Promise<SandboxDrive> {
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: sandbox.issueRefreshToken(),
    client_id: sandbox.env.GDRIVE_CLIENT_ID,
    client_secret: sandbox.env.GDRIVE_CLIENT_SECRET,
  });
  const tokenAnswer = await fetch(sandbox.env.GDRIVE_OAUTH_TOKEN_URL, { method: 'POST', body: form });
  if (!tokenAnswer.ok) throw new Error(`token: ${tokenAnswer.status} ${await tokenAnswer.text()}`);
  const { access_token: token } = (await tokenAnswer.json()) as { access_token: string };
  const api = sandbox.env.GDRIVE_API_ROOT;
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  };
  const create = async (parentId: string, name: string, mimeType: string) =>
    (
      (await call('POST', 'drive/v3/files?supportsAllDrives=true&fields=id', {
        name,
        mimeType,
        parents: [parentId],
      })) as {
        id: string;
      }
    ).id;
  return {
    createFolder: (parentId, name) => create(parentId, name, FOLDER_MIME),
    createFile: (parentId, name) => create(parentId, name, 'application/octet-stream'),
    delete: async (id) => {
      await call('DELETE', `drive/v3/files/${id}?supportsAllDrives=true`);
    },
    trash: async (id) => {
      await call('PATCH', `drive/v3/files/${id}?supportsAllDrives=true`, { trashed: true });
    },
  };
}

/** The id of the (only, untrashed) item at `names` from My Drive's root or a shared drive. */
export function itemAt(sandbox: Sandbox, names: string[], rootId?: string): string {
  const items = sandbox.items().filter((item) => !item.trashed);
  let parent = rootId;
  if (parent === undefined) {
    const top = items.find((item) => item.name === names[0] && !items.some((p) => p.id === item.parents[0]));
    if (!top) throw new Error(`no ${names[0]} at the top of My Drive`);
    parent = top.parents[0]!;
  }
  for (const name of names) {
    const matches = items.filter((item) => item.name === name && item.parents.includes(parent!));
    if (matches.length !== 1) throw new Error(`${matches.length} items called ${name} in ${parent}`);
    parent = matches[0]!.id;
  }
  return parent!;
}
