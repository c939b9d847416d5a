/**
 * Drive v3 metadata endpoints and the download: about.get, files.create/list/get/update/delete,
 * files.get?alt=media with Range, drives.get. Every answer goes through the `fields` filter with
 * Google's defaults; every id is checked against what the caller's scope may see.
 */
import { createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  ABOUT_SCHEMA,
  DRIVE_SCHEMA,
  FILE_LIST_SCHEMA,
  FILE_SCHEMA,
  parseFields,
  project,
} from './fields-filter.js';
import {
  badRequest,
  boolParam,
  DriveError,
  type Exchange,
  notFound,
  readJsonObject,
  sendJson,
  writeShaped,
} from './http-io.js';
import { parseQuery, QueryError } from './query-parser.js';
import {
  type Caller,
  FOLDER_MIME,
  randomId,
  type SandboxCore,
  type StoredItem,
  timestamp,
} from './sandbox-state.js';

const DEFAULT_FILE_FIELDS = 'kind,id,name,mimeType';
const DEFAULT_LIST_FIELDS = 'kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)';

/** The full v3 file resource; `fields` picks from it. */
function fileResource(core: SandboxCore, item: StoredItem, caller: Caller): Record<string, unknown> {
  const folder = item.mimeType === FOLDER_MIME;
  const trashed = core.state.isTrashed(item);
  const resource: Record<string, unknown> = {
    kind: 'drive#file',
    id: item.id,
    name: item.name,
    mimeType: item.mimeType,
    starred: false,
    trashed,
    explicitlyTrashed: item.explicitlyTrashed,
    parents: item.parents.length > 0 ? [...item.parents] : undefined,
    spaces: ['drive'],
    version: '1',
    createdTime: item.createdTime,
    modifiedTime: item.modifiedTime,
    ownedByMe: !item.driveId,
    shared: false,
    webViewLink: `https://drive.google.com/${folder ? 'drive/folders' : 'file/d'}/${item.id}${folder ? '' : '/view?usp=drivesdk'}`,
    capabilities: { canEdit: caller.access !== 'readonly', canDownload: !folder, canTrash: !item.isRoot },
  };
  if (item.driveId) {
    resource.driveId = item.driveId;
    resource.teamDriveId = item.driveId;
  }
  if (!folder) {
    resource.size = String(item.size);
    resource.quotaBytesUsed = String(item.size);
    if (item.md5) resource.md5Checksum = item.md5;
    if (item.sha256) resource.sha256Checksum = item.sha256;
    resource.originalFilename = item.name;
    const dot = item.name.lastIndexOf('.');
    if (dot > 0) {
      resource.fileExtension = item.name.slice(dot + 1);
      resource.fullFileExtension = item.name.slice(dot + 1);
    }
  } else {
    resource.quotaBytesUsed = '0';
  }
  return resource;
}

/** Answers 200 with the file resource, filtered by `fields` (Google's default set when absent). */
export function sendFile(
  core: SandboxCore,
  ex: Exchange,
  item: StoredItem,
  caller: Caller,
  fields: string | null,
): Promise<void> {
  return sendJson(
    ex,
    200,
    project(fileResource(core, item, caller), fields, DEFAULT_FILE_FIELDS, FILE_SCHEMA),
  );
}

/**
 * The request's `fields` for a file answer (null = the defaults), refused before anything changes.
 * An empty `fields=` means the defaults: Google's Go client sends it for `Fields("")`, as rclone
 * does on every update and delete (backend/drive/drive.go), and Google answers those normally.
 */
export function fileFields(ex: Exchange): string | null {
  const fields = ex.url.searchParams.get('fields') || null;
  parseFields(fields ?? DEFAULT_FILE_FIELDS, FILE_SCHEMA);
  return fields;
}

// --- about.get

export async function aboutGet(core: SandboxCore, ex: Exchange, caller: Caller): Promise<void> {
  const fields = ex.url.searchParams.get('fields');
  if (!fields) {
    throw new DriveError(400, 'required', "The 'fields' parameter is required for this operation.", {
      location: 'fields',
      locationType: 'parameter',
    });
  }
  const { usage, trash } = core.state.usage();
  const quota: Record<string, string> = {
    usage: String(usage),
    usageInDrive: String(usage),
    usageInDriveTrash: String(trash),
  };
  if (core.state.quotaBytes !== null) quota.limit = String(core.state.quotaBytes);
  const about = {
    kind: 'drive#about',
    user: {
      kind: 'drive#user',
      displayName: caller.email.split('@')[0],
      me: true,
      permissionId: createHmac('sha256', 'permission').update(caller.email).digest('hex').slice(0, 20),
      emailAddress: caller.email,
    },
    storageQuota: quota,
    maxUploadSize: '5497558138880',
    appInstalled: false,
    canCreateDrives: true,
  };
  await sendJson(ex, 200, project(about, fields, '', ABOUT_SCHEMA));
}

// --- files.create (metadata only)

const WRITABLE = new Set([
  'name',
  'mimeType',
  'parents',
  'description',
  'properties',
  'appProperties',
  'createdTime',
  'modifiedTime',
  'originalFilename',
  'starred',
]);

export interface NewItemMetadata {
  name: string;
  mimeType: string;
  parent: StoredItem;
  /** Set by the client (rclone keeps the source's time this way); the creation time otherwise. */
  modifiedTime?: string;
}

/**
 * `modifiedTime` is writable on create and update (Drive v3 File reference: "modifiedTime ...
 * writable"); an RFC 3339 date-time, stored and answered in Google's form (UTC, milliseconds).
 */
function modifiedTimeOf(body: Record<string, unknown>): string | undefined {
  const value = body.modifiedTime;
  if (value === undefined) return undefined;
  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
  if (typeof value !== 'string' || !rfc3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw badRequest('invalid', `Invalid value for modifiedTime: ${String(value)}`, 'modifiedTime');
  }
  return new Date(value).toISOString();
}

/** Validates create metadata (also used by uploads): one parent, visible, a folder. */
export function checkCreateMetadata(
  core: SandboxCore,
  caller: Caller,
  body: Record<string, unknown>,
  supportsAllDrives: boolean,
  defaultMime: string,
): NewItemMetadata {
  for (const key of Object.keys(body)) {
    if (!WRITABLE.has(key)) throw badRequest('invalid', `Invalid field for create: ${key}`, key);
  }
  if (body.name !== undefined && typeof body.name !== 'string')
    throw badRequest('invalid', 'Invalid value for name', 'name');
  if (body.mimeType !== undefined && typeof body.mimeType !== 'string') {
    throw badRequest('invalid', 'Invalid value for mimeType', 'mimeType');
  }
  let parentId = 'root';
  if (body.parents !== undefined) {
    if (!Array.isArray(body.parents) || !body.parents.every((p) => typeof p === 'string')) {
      throw badRequest('invalid', 'Invalid value for parents', 'parents');
    }
    if (body.parents.length > 1) {
      throw new DriveError(403, 'cannotAddParent', 'A file can only have one parent.');
    }
    if (body.parents.length === 1) parentId = body.parents[0] as string;
  }
  const parent = core.state.findItem(caller, parentId, supportsAllDrives);
  if (parent.mimeType !== FOLDER_MIME) {
    throw badRequest('invalid', `The parent ${parentId} is not a folder.`, 'parents');
  }
  const meta: NewItemMetadata = {
    name: (body.name as string | undefined) ?? 'Untitled',
    mimeType: (body.mimeType as string | undefined) ?? defaultMime,
    parent,
  };
  const modifiedTime = modifiedTimeOf(body);
  if (modifiedTime) meta.modifiedTime = modifiedTime;
  return meta;
}

export function addItem(
  core: SandboxCore,
  caller: Caller,
  meta: NewItemMetadata,
  content: { size: number; md5?: string; sha256?: string },
): StoredItem {
  const now = timestamp();
  const item: StoredItem = {
    id: randomId(24),
    name: meta.name,
    mimeType: meta.mimeType,
    parents: [meta.parent.id],
    size: content.size,
    explicitlyTrashed: false,
    createdTime: now,
    modifiedTime: meta.modifiedTime ?? now,
    createdByClient: caller.clientId,
    isRoot: false,
  };
  if (content.md5) item.md5 = content.md5;
  if (content.sha256) item.sha256 = content.sha256;
  if (meta.parent.driveId) item.driveId = meta.parent.driveId;
  core.state.items.set(item.id, item);
  return item;
}

const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export async function filesCreate(core: SandboxCore, ex: Exchange, caller: Caller): Promise<void> {
  const supportsAllDrives = boolParam(ex.url, 'supportsAllDrives');
  const fields = fileFields(ex);
  const body = await readJsonObject(ex);
  core.state.requireWrite(caller);
  const meta = checkCreateMetadata(core, caller, body, supportsAllDrives, 'application/octet-stream');
  const folder = meta.mimeType === FOLDER_MIME;
  const item = addItem(
    core,
    caller,
    meta,
    folder ? { size: 0 } : { size: 0, md5: EMPTY_MD5, sha256: EMPTY_SHA256 },
  );
  if (!folder) await core.store.writeEmpty(item.id);
  await sendFile(core, ex, item, caller, fields);
}

// --- files.list

function pageTokenKey(core: SandboxCore, queryKey: string, offset: number): string {
  const mac = createHmac('sha256', core.state.rootId)
    .update(`${queryKey}\n${offset}`)
    .digest('base64url')
    .slice(0, 16);
  return Buffer.from(JSON.stringify({ o: offset, m: mac })).toString('base64url');
}

function readPageToken(core: SandboxCore, queryKey: string, token: string): number {
  let parsed: { o?: unknown; m?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('invalid', 'Invalid Value', 'pageToken');
  }
  const offset = parsed.o;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw badRequest('invalid', 'Invalid Value', 'pageToken');
  }
  if (pageTokenKey(core, queryKey, offset) !== token)
    throw badRequest('invalid', 'Invalid Value', 'pageToken');
  return offset;
}

type Comparator = (a: StoredItem, b: StoredItem) => number;

function parseOrderBy(text: string | null): Comparator {
  const keys: Comparator[] = [];
  for (const part of (text ?? '').split(',')) {
    const piece = part.trim();
    if (piece === '') continue;
    const m = /^(createdTime|modifiedTime|name|name_natural|folder)(?:\s+(asc|desc))?$/.exec(piece);
    if (!m) throw badRequest('invalid', `Invalid sort field: ${piece}`, 'orderBy');
    const sign = m[2] === 'desc' ? -1 : 1;
    const field = m[1]!;
    keys.push((a, b) => {
      let c: number;
      if (field === 'folder') c = Number(b.mimeType === FOLDER_MIME) - Number(a.mimeType === FOLDER_MIME);
      else if (field === 'createdTime' || field === 'modifiedTime') c = a[field].localeCompare(b[field]);
      else c = a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      return sign * c;
    });
  }
  // A fixed tie-break keeps pages stable whatever the order asked.
  keys.push((a, b) => a.createdTime.localeCompare(b.createdTime) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return (a, b) => {
    for (const k of keys) {
      const c = k(a, b);
      if (c !== 0) return c;
    }
    return 0;
  };
}

export async function filesList(core: SandboxCore, ex: Exchange, caller: Caller): Promise<void> {
  const p = ex.url.searchParams;
  const fields = p.get('fields');
  parseFields(fields ?? DEFAULT_LIST_FIELDS, FILE_LIST_SCHEMA);
  const sizeText = p.get('pageSize');
  let pageSize = 100;
  if (sizeText !== null) {
    pageSize = Number(sizeText);
    if (!/^\d+$/.test(sizeText) || pageSize < 1 || pageSize > 1000) {
      throw badRequest(
        'invalid',
        `Invalid value '${sizeText}'. Values must be within the range: [1, 1000]`,
        'pageSize',
      );
    }
  }
  const supportsAllDrives = boolParam(ex.url, 'supportsAllDrives');
  const includeAll = boolParam(ex.url, 'includeItemsFromAllDrives');
  const corpora = p.get('corpora') ?? 'user';
  const driveId = p.get('driveId');
  if (!['user', 'drive', 'allDrives', 'domain'].includes(corpora)) {
    throw badRequest('invalid', `Invalid value for corpora: ${corpora}`, 'corpora');
  }
  if ((corpora === 'drive') !== Boolean(driveId)) {
    throw badRequest(
      'invalid',
      'The driveId parameter must be specified if and only if corpora is set to drive.',
      'driveId',
    );
  }
  if ((driveId || corpora === 'allDrives') && !includeAll) {
    throw badRequest(
      'invalid',
      'The includeItemsFromAllDrives parameter must be set to true when driveId is specified.',
      'includeItemsFromAllDrives',
    );
  }
  if (includeAll && !supportsAllDrives) {
    throw badRequest(
      'invalid',
      'The includeItemsFromAllDrives parameter may only be set to true if supportsAllDrives is also set to true.',
      'includeItemsFromAllDrives',
    );
  }
  if (driveId && !core.state.drives.has(driveId)) throw notFound('Shared drive', driveId, 'driveId');
  const q = p.get('q');
  let predicate: (item: StoredItem) => boolean;
  try {
    const parsed = parseQuery(q ?? '', (id) => core.state.resolveId(id));
    predicate = (item) => parsed({ ...item, trashed: core.state.isTrashed(item) });
  } catch (error) {
    if (error instanceof QueryError) throw badRequest('invalid', 'Invalid Value', 'q');
    throw error;
  }
  const compare = parseOrderBy(p.get('orderBy'));
  const queryKey = JSON.stringify([
    q,
    p.get('orderBy'),
    corpora,
    driveId,
    includeAll,
    caller.clientId,
    caller.email,
  ]);
  const pageToken = p.get('pageToken');
  const offset = pageToken ? readPageToken(core, queryKey, pageToken) : 0;

  const matches = [...core.state.items.values()]
    .filter((item) => {
      if (item.isRoot) return false;
      if (!core.state.visibleTo(caller, item)) return false;
      if (item.driveId) {
        if (corpora === 'drive') return item.driveId === driveId;
        return corpora === 'allDrives';
      }
      return corpora !== 'drive';
    })
    .filter(predicate)
    .sort(compare);
  const page = matches.slice(offset, offset + pageSize);
  const answer: Record<string, unknown> = { kind: 'drive#fileList', incompleteSearch: false };
  if (offset + pageSize < matches.length)
    answer.nextPageToken = pageTokenKey(core, queryKey, offset + pageSize);
  answer.files = page.map((item) => fileResource(core, item, caller));
  await sendJson(ex, 200, project(answer, fields, DEFAULT_LIST_FIELDS, FILE_LIST_SCHEMA));
}

// --- files.get and alt=media

export async function filesGet(core: SandboxCore, ex: Exchange, caller: Caller, id: string): Promise<void> {
  const fields = fileFields(ex);
  const item = core.state.findItem(caller, id, boolParam(ex.url, 'supportsAllDrives'));
  await sendFile(core, ex, item, caller, fields);
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`; null = ignore the header (malformed or several ranges), as RFC 9110 allows. */
function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

export async function filesDownload(
  core: SandboxCore,
  ex: Exchange,
  caller: Caller,
  id: string,
): Promise<void> {
  const item = core.state.findItem(caller, id, boolParam(ex.url, 'supportsAllDrives'));
  if (item.mimeType === FOLDER_MIME || item.mimeType.startsWith('application/vnd.google-apps.')) {
    throw new DriveError(403, 'fileNotDownloadable', 'Only files with binary content can be downloaded.', {
      location: 'alt',
      locationType: 'parameter',
    });
  }
  const header = ex.req.headers.range;
  const range = header ? parseRange(header, item.size) : null;
  if (range === 'unsatisfiable') {
    throw new DriveError(416, 'requestedRangeNotSatisfiable', 'Request range not satisfiable', {
      headers: { 'content-range': `bytes */${item.size}` },
    });
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : item.size - 1;
  const length = end - start + 1;
  const headers: Record<string, string> = {
    'content-type': item.mimeType,
    'content-length': String(length),
    'accept-ranges': 'bytes',
  };
  if (item.md5) headers['x-goog-hash'] = `md5=${Buffer.from(item.md5, 'hex').toString('base64')}`;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${item.size}`;
  ex.res.writeHead(range ? 206 : 200, headers);
  if (length <= 0) {
    ex.res.end();
    return;
  }
  // A reset fault cuts the answer after about half of it (at least one byte, never all).
  const cutAfter = ex.fault === 'reset' ? Math.max(1, Math.floor(length / 2)) : Number.POSITIVE_INFINITY;
  let sent = 0;
  const stream = createReadStream(core.store.contentPath(item.id), { start, end, highWaterMark: 256 * 1024 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const piece = sent + chunk.length > cutAfter ? chunk.subarray(0, cutAfter - sent) : chunk;
      await writeShaped(ex, piece);
      sent += piece.length;
      if (sent >= cutAfter) {
        await new Promise<void>((resolve) => ex.res.write('', () => resolve()));
        ex.socket.destroy();
        return;
      }
    }
  } finally {
    stream.destroy();
  }
  ex.res.end();
}

// --- files.update

/** Renaming, trashing or deleting the root of My Drive or of a shared drive. */
function rootNotWritable(): DriveError {
  return new DriveError(
    403,
    'insufficientFilePermissions',
    'The user does not have sufficient permissions for this file.',
  );
}

export async function filesUpdate(
  core: SandboxCore,
  ex: Exchange,
  caller: Caller,
  id: string,
): Promise<void> {
  const fields = fileFields(ex);
  const supportsAllDrives = boolParam(ex.url, 'supportsAllDrives');
  const body = await readJsonObject(ex);
  const item = core.state.findItem(caller, id, supportsAllDrives);
  const apply = prepareUpdate(core, ex.url.searchParams, caller, item, body, supportsAllDrives);
  apply();
  await sendFile(core, ex, item, caller, fields);
}

/**
 * Checks an update of `item`'s metadata (the body and addParents/removeParents) and returns the
 * change to make; nothing changes before everything is checked, so a refused update leaves the
 * item as it was. Shared by files.update and the content uploads that update a file.
 */
export function prepareUpdate(
  core: SandboxCore,
  params: URLSearchParams,
  caller: Caller,
  item: StoredItem,
  body: Record<string, unknown>,
  supportsAllDrives: boolean,
): () => void {
  core.state.requireWrite(caller);
  for (const key of Object.keys(body)) {
    if (
      ![
        'name',
        'trashed',
        'description',
        'properties',
        'appProperties',
        'starred',
        'modifiedTime',
        'mimeType',
      ].includes(key)
    ) {
      throw badRequest(
        'fieldNotWritable',
        `The resource body includes fields which are not directly writable: ${key}`,
        key,
      );
    }
  }
  if (item.isRoot && (body.name !== undefined || body.trashed !== undefined)) {
    throw rootNotWritable();
  }
  if (body.name !== undefined && typeof body.name !== 'string') {
    throw badRequest('invalid', 'Invalid value for name', 'name');
  }
  if (body.trashed !== undefined && typeof body.trashed !== 'boolean') {
    throw badRequest('invalid', 'Invalid value for trashed', 'trashed');
  }
  if (body.mimeType !== undefined && typeof body.mimeType !== 'string') {
    throw badRequest('invalid', 'Invalid value for mimeType', 'mimeType');
  }
  const modifiedTime = modifiedTimeOf(body);
  const addParents = params.get('addParents');
  const removeParents = params.get('removeParents');
  let parents: string[] | undefined;
  if (addParents || removeParents) {
    const adding = (addParents ?? '').split(',').filter(Boolean);
    const removing = (removeParents ?? '').split(',').filter(Boolean);
    parents = item.parents.filter((p) => !removing.map((r) => core.state.resolveId(r)).includes(p));
    for (const p of adding) {
      const parent = core.state.findItem(caller, p, supportsAllDrives);
      if (parent.mimeType !== FOLDER_MIME)
        throw badRequest('invalid', `The parent ${p} is not a folder.`, 'addParents');
      if (parent.driveId !== item.driveId) {
        throw new DriveError(
          403,
          'cannotMoveItemIntoTeamDrive',
          'Moving between drives is not supported here.',
        );
      }
      parents.push(parent.id);
    }
    if (parents.length !== 1)
      throw new DriveError(403, 'cannotAddParent', 'A file must have exactly one parent.');
  }
  return () => {
    if (typeof body.name === 'string') item.name = body.name;
    if (typeof body.trashed === 'boolean') item.explicitlyTrashed = body.trashed;
    if (typeof body.mimeType === 'string' && item.mimeType !== FOLDER_MIME) item.mimeType = body.mimeType;
    if (parents) item.parents = parents;
    item.modifiedTime = modifiedTime ?? timestamp();
  };
}

// --- files.delete

export async function filesDelete(
  core: SandboxCore,
  ex: Exchange,
  caller: Caller,
  id: string,
): Promise<void> {
  const item = core.state.findItem(caller, id, boolParam(ex.url, 'supportsAllDrives'));
  core.state.requireWrite(caller);
  if (item.isRoot) {
    throw rootNotWritable();
  }
  for (const gone of [item, ...core.state.descendants(item.id)]) {
    core.state.items.delete(gone.id);
    await core.store.remove(gone.id);
  }
  ex.res.writeHead(204, { 'content-length': '0' });
  ex.res.end();
}

// --- drives.get

export async function drivesGet(core: SandboxCore, ex: Exchange, _caller: Caller, id: string): Promise<void> {
  const fields = ex.url.searchParams.get('fields');
  const drive = core.state.drives.get(id);
  if (!drive) throw notFound('Shared drive', id, 'driveId');
  const resource = {
    kind: 'drive#drive',
    id: drive.id,
    name: drive.name,
    createdTime: drive.createdTime,
    hidden: false,
    capabilities: { canAddChildren: true, canDeleteChildren: true },
  };
  await sendJson(ex, 200, project(resource, fields, 'kind,id,name', DRIVE_SCHEMA));
}
