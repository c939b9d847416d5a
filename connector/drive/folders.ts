/**
 * The object's Drive folder and the folders under it, by path.
 *
 * Layout: `<root>/<type>/<name>` (the server: `<root>/server`), made on first use. The root is a
 * path in My Drive, `id:<folderId>`, or `drive:<sharedDriveId>[/path]`.
 *
 * Drive finds folders by name one level at a time, so every path -> id answer is cached in the
 * state store (one record per object) and a backup into an existing folder costs no look-ups.
 * Names are not unique on Drive: creation of one path is serialised in-process (one process
 * owns a data dir), and where duplicates already exist the oldest wins everywhere, with a
 * warning. A cached id that Drive no longer knows drops the object's cache (`forget`).
 *
 * Drive's files.list is not read-after-write consistent: what was just made can stay missing
 * from lists for seconds (google-drive-facts.md). Every look-up by name and every listing
 * therefore adds what the connector made or finished there (RecentItems), confirmed by files.get,
 * so a folder made a moment ago is not made twice and a file just closed can be found.
 */
import type { Keyv } from 'keyv';
import { formatObjectRef, type ObjectRef } from '../core/object-ref.js';
import { GdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import type { DriveApi, DriveItem, FolderRef } from './drive-api.js';
import { joinHookPath, splitHookPath } from './paths.js';

export type RootSetting =
  | { kind: 'mydrive'; names: string[] }
  | { kind: 'id'; id: string }
  | { kind: 'drive'; driveId: string; names: string[] };

const DRIVE_ID = /^[A-Za-z0-9_-]{1,200}$/;

export function parseRootSetting(text: string): RootSetting {
  const bad = (reason: string): never => {
    throw new GdriveBackupError('invalid_path', { path: text, reason });
  };
  if (text.startsWith('id:')) {
    const id = text.slice(3);
    if (!DRIVE_ID.test(id)) bad('a folder id has only letters, digits, - and _');
    return { kind: 'id', id };
  }
  if (text.startsWith('drive:')) {
    const [driveId = '', ...rest] = text.slice(6).split('/');
    if (!DRIVE_ID.test(driveId)) bad('a shared drive id has only letters, digits, - and _');
    return { kind: 'drive', driveId, names: splitHookPath(rest.join('/')) };
  }
  return { kind: 'mydrive', names: splitHookPath(text) };
}

/** Where one object's folder is, as the transport sees it for this call. */
export interface FolderLocation {
  rootSetting: string;
  /** Folder name of a non-server object (domain, login, or its id). */
  objectName: string;
}

/** The object's folder as the admin reads it: "My Drive/Plesk Backups/host/subscription/example.com". */
export function describeFolder(object: ObjectRef, where: FolderLocation): string {
  const setting = parseRootSetting(where.rootSetting);
  const tail = object.id === null ? [object.type] : [object.type, where.objectName];
  if (setting.kind === 'id') return [`Folder ${setting.id}`, ...tail].join('/');
  if (setting.kind === 'drive')
    return [`Shared drive ${setting.driveId}`, ...setting.names, ...tail].join('/');
  return ['My Drive', ...setting.names, ...tail].join('/');
}

/** Runs one task at a time per key (in this process). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** A remembered item: where it was made and when (ms). */
interface RecentEntry {
  parentId: string;
  name: string;
  at: number;
}

/**
 * Ids of what the connector made (folders) or finished (uploads), by parent id and exact name,
 * shared by every object. An entry goes when a list shows the item (lists have caught up), when
 * files.get no longer finds it there, when the connector deletes it, after RECENT_TTL_MS, or when
 * MAX_RECENT newer ones push it out. Kept in the state store (one record), so a connector
 * restarted a moment after a crash still finds what it had just finished.
 */
export class RecentItems {
  static readonly MAX_RECENT = 1000;
  /** Reports of Drive's list lag speak of seconds to minutes; an hour is far beyond. */
  static readonly RECENT_TTL_MS = 3600_000;
  private static readonly STATE_KEY = 'recent-items';
  /** id -> entry; insertion order is age. */
  private readonly byId = new Map<string, RecentEntry>();
  private loaded: Promise<void> | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly state?: Keyv,
    private readonly now: () => number = Date.now,
  ) {}

  async remember(parentId: string, name: string, id: string): Promise<void> {
    await this.load();
    this.byId.delete(id);
    this.byId.set(id, { parentId, name, at: this.now() });
    while (this.byId.size > RecentItems.MAX_RECENT) {
      const oldest = this.byId.keys().next().value;
      if (oldest === undefined) break;
      this.byId.delete(oldest);
    }
    await this.save();
  }

  async forget(id: string): Promise<void> {
    await this.load();
    if (this.byId.delete(id)) await this.save();
  }

  /** Recent items in `parentId` (called `name` when given). */
  async under(parentId: string, name?: string): Promise<Array<{ id: string; name: string }>> {
    await this.load();
    const since = this.now() - RecentItems.RECENT_TTL_MS;
    const found: Array<{ id: string; name: string }> = [];
    for (const [id, at] of this.byId)
      if (at.at >= since && at.parentId === parentId && (name === undefined || at.name === name))
        found.push({ id, name: at.name });
    return found;
  }

  /*
   * The record is a hint, never the truth (files.get confirms every id): a state store that
   * cannot be read or written leaves the connector with what it remembers in memory, rather than
   * failing a finished upload or a look-up over it.
   */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      const saved = await this.state
        ?.get<Array<[string, RecentEntry]>>(RecentItems.STATE_KEY)
        .catch(() => undefined);
      const since = this.now() - RecentItems.RECENT_TTL_MS;
      for (const [id, entry] of saved ?? [])
        if (entry.at >= since && !this.byId.has(id)) this.byId.set(id, entry);
    })();
    return this.loaded;
  }

  /** Saves the current entries, one save after another, so the last one written is the newest. */
  private save(): Promise<void> {
    const state = this.state;
    if (!state) return Promise.resolve();
    this.saving = this.saving.then(() =>
      state.set(RecentItems.STATE_KEY, [...this.byId]).then(
        () => undefined,
        () => undefined,
      ),
    );
    return this.saving;
  }
}

interface FolderCache {
  /** rootSetting + object name the record was made for; another location starts afresh. */
  where: string;
  base: FolderRef;
  /** Hook path ('/a/b') -> folder id. */
  dirs: Record<string, string>;
}

export interface ResolvedDir {
  ref: FolderRef;
  /** True when no Drive request was needed: the ids came from the cache, so may be stale. */
  fromCache: boolean;
}

export interface ObjectFoldersDeps {
  object: ObjectRef;
  api: () => Promise<DriveApi>;
  state: Keyv;
  log: Log;
  mutex: KeyedMutex;
  /** What the connector made or finished, shared by all objects. */
  recent: RecentItems;
}

export class ObjectFolders {
  private cache: FolderCache | undefined;
  private loaded = false;
  private readonly name: string;

  constructor(private readonly deps: ObjectFoldersDeps) {
    this.name = formatObjectRef(deps.object);
  }

  private get stateKey(): string {
    return `folders:${this.name}`;
  }

  private async load(where: FolderLocation): Promise<FolderCache | undefined> {
    if (!this.loaded) {
      this.cache = (await this.deps.state.get<FolderCache>(this.stateKey)) ?? undefined;
      this.loaded = true;
    }
    if (this.cache && this.cache.where !== whereKey(where)) this.cache = undefined;
    return this.cache;
  }

  private async persist(): Promise<void> {
    if (this.cache) await this.deps.state.set(this.stateKey, this.cache);
  }

  /** The object's own folder, made (with its parents) on first use. */
  async objectFolder(where: FolderLocation): Promise<ResolvedDir> {
    const cached = await this.load(where);
    if (cached) return { ref: cached.base, fromCache: true };
    return this.deps.mutex.run(`object:${this.name}`, async () => {
      const again = await this.load(where);
      if (again) return { ref: again.base, fromCache: true };
      const base = await this.resolveBase(where);
      this.cache = { where: whereKey(where), base, dirs: {} };
      await this.persist();
      return { ref: base, fromCache: false };
    });
  }

  /** The folder at `names` under the object folder (no names: that folder); null when absent (or a file) and !create. */
  async resolveDir(
    where: FolderLocation,
    names: readonly string[],
    create: boolean,
  ): Promise<ResolvedDir | null> {
    const base = await this.objectFolder(where);
    let ref = base.ref;
    let fromCache = base.fromCache;
    for (let i = 0; i < names.length; i++) {
      const prefix = joinHookPath(names.slice(0, i + 1));
      const hit = this.cache?.dirs[prefix];
      if (hit) {
        ref = withDrive(hit, base.ref);
        continue;
      }
      fromCache = false;
      const parent = ref;
      const child = await this.deps.mutex.run(`dir:${this.name}:${prefix}`, async () => {
        const again = this.cache?.dirs[prefix];
        if (again) return withDrive(again, base.ref);
        const found = await this.ensureChild(parent, names[i]!, create, prefix);
        if (found && this.cache) {
          this.cache.dirs[prefix] = found.id;
          await this.persist();
        }
        return found;
      });
      if (!child) return null;
      ref = child;
    }
    return { ref, fromCache };
  }

  /** Items of `parent` called exactly `name`, oldest first, including ones lists do not show yet. */
  async findNamed(parent: FolderRef, name: string, path: string): Promise<DriveItem[]> {
    const api = await this.deps.api();
    return this.withRecent(api, parent, await api.findChildren(parent, name, path), path, name);
  }

  /** Every child of `parent`, oldest first, including ones lists do not show yet. */
  async listChildren(parent: FolderRef, path: string): Promise<DriveItem[]> {
    const api = await this.deps.api();
    return this.withRecent(api, parent, await api.listChildren(parent, path), path);
  }

  /** The item is gone (deleted or trashed by the connector): no look-up should confirm it again. */
  forgetItem(id: string): Promise<void> {
    return this.deps.recent.forget(id);
  }

  /** Adds to a list answer the recent items it misses, each confirmed by files.get. */
  private async withRecent(
    api: DriveApi,
    parent: FolderRef,
    listed: DriveItem[],
    path: string,
    name?: string,
  ): Promise<DriveItem[]> {
    const recent = await this.deps.recent.under(parent.id, name);
    if (recent.length === 0) return listed;
    const shown = new Set(listed.map((item) => item.id));
    const missing: DriveItem[] = [];
    for (const entry of recent) {
      if (shown.has(entry.id)) {
        await this.deps.recent.forget(entry.id);
        continue;
      }
      const item = await api.getItem(entry.id, path);
      // 'root' is My Drive's alias; Drive names its real id in parents.
      const moved = parent.id !== 'root' && !item?.parents?.includes(parent.id);
      if (!item || item.name !== entry.name || moved) {
        await this.deps.recent.forget(entry.id);
        continue;
      }
      this.deps.log.debug('Drive does not list a new item yet; found it by id', { object: this.name, path });
      missing.push(item);
    }
    if (missing.length === 0) return listed;
    return [...listed, ...missing].sort(byCreatedTime);
  }

  /** Drops every cached id of the object (one of them proved stale). */
  async forget(): Promise<void> {
    this.cache = undefined;
    this.loaded = true;
    await this.deps.state.delete(this.stateKey);
  }

  /** Drops the cached ids of a deleted folder and everything under it. */
  async forgetUnder(names: readonly string[]): Promise<void> {
    if (!this.cache) return;
    const prefix = joinHookPath(names);
    for (const path of Object.keys(this.cache.dirs)) {
      if (path === prefix || path.startsWith(`${prefix}/`)) delete this.cache.dirs[path];
    }
    await this.persist();
  }

  private async resolveBase(where: FolderLocation): Promise<FolderRef> {
    const api = await this.deps.api();
    const setting = parseRootSetting(where.rootSetting);
    let ref: FolderRef;
    let names: string[];
    if (setting.kind === 'id') {
      const item = await api.getItem(setting.id, where.rootSetting);
      if (!item?.isFolder) throw new GdriveBackupError('not_found', { path: where.rootSetting });
      ref = item.driveId ? { id: setting.id, driveId: item.driveId } : { id: setting.id };
      names = [];
    } else if (setting.kind === 'drive') {
      ref = { id: setting.driveId, driveId: setting.driveId };
      names = [...setting.names];
    } else {
      ref = { id: 'root' };
      names = [...setting.names];
    }
    names.push(this.deps.object.type);
    if (this.deps.object.id !== null) names.push(where.objectName);
    const shown: string[] = [];
    for (const name of names) {
      shown.push(name);
      const child = await this.ensureChild(ref, name, true, `${where.rootSetting} > ${shown.join('/')}`);
      ref = child!;
    }
    return ref;
  }

  /** The oldest folder `name` in `parent`, made when absent and `create`. */
  private ensureChild(
    parent: FolderRef,
    name: string,
    create: boolean,
    path: string,
  ): Promise<FolderRef | null> {
    return this.deps.mutex.run(`child:${parent.id}/${name}`, async () => {
      const api = await this.deps.api();
      const items = await this.findNamed(parent, name, path);
      const folders = items.filter((item) => item.isFolder);
      if (folders.length > 1) {
        this.deps.log.warn('Drive holds several folders of this name; using the oldest', {
          object: this.name,
          path,
          count: folders.length,
        });
      }
      const oldest = folders[0];
      if (oldest) return withDrive(oldest.id, parent);
      if (items.length > 0) {
        if (create) throw new GdriveBackupError('not_a_directory', { path });
        return null;
      }
      if (!create) return null;
      const made = await api.createFolder(parent, name, path);
      await this.deps.recent.remember(parent.id, name, made.id);
      return withDrive(made.id, parent);
    });
  }
}

/** Oldest first, as Drive's lists (orderBy createdTime) answer. */
function byCreatedTime(a: DriveItem, b: DriveItem): number {
  return (a.createdTime ?? '').localeCompare(b.createdTime ?? '');
}

function withDrive(id: string, parent: FolderRef): FolderRef {
  return parent.driveId ? { id, driveId: parent.driveId } : { id };
}

function whereKey(where: FolderLocation): string {
  return `${where.rootSetting}\n${where.objectName}`;
}
