/**
 * The Transport of one backup object: Plesk's hook methods on the object's Drive folder.
 *
 * Metadata (stat, list, folders, deletes, quota) is answered here with DriveApi and the
 * object's folder cache; file contents go to the handle engine (TransferHandles): this module
 * only finds the parent folder or the file and hands over ids.
 *
 * Names are not unique on Drive. Where several items share a name, a folder answers before a
 * file and the oldest folder wins (as in folders.ts), while among files the newest complete copy
 * (one Drive has an md5 for) answers: a file written again, or a copy whose older twin could not
 * be removed yet, reads as the latest backup. deleteFile and deleteDir remove every item of that
 * name and kind, and openFileWrite replaces the files already there (a new file, as opening with
 * O_TRUNC would), so stat() right after a write sees the new file and its checksum. Look-ups go
 * through ObjectFolders, which also finds what Drive's lists do not show yet.
 *
 * A replaced file stays until the new one is verified: the handle's record keeps the old ids
 * (in the state store, so a restart between open and close keeps them too) and closeWrite
 * deletes them only after Drive's checksums matched. A resumable upload makes no file on Drive
 * before its last PUT, so until then every read sees the old copy, and after a failed or aborted
 * upload the old copy is all there is.
 */

import type { Accounts } from '../auth/accounts.js';
import { assertClientConfigured } from '../auth/oauth-client.js';
import type { Config } from '../config/config.js';
import { formatObjectRef, type ObjectRef } from '../core/object-ref.js';
import type {
  AccountActivity,
  AccountInfo,
  CheckResult,
  Entry,
  HandleOperations,
  HashInfo,
  ObjectNames,
  Quota,
} from '../core/types.js';
import type { DriveApi, DriveItem, FolderRef } from '../drive/drive-api.js';
import { describeFolder, type FolderLocation, type ObjectFolders } from '../drive/folders.js';
import { joinHookPath, replaceControlCharacters, splitHookPath } from '../drive/paths.js';
import type { OpenWriteInput } from '../drive/resumable-upload.js';
import { assertOffset, type OpenReadInput } from '../drive/transfer-handles.js';
import { GdriveBackupError, isGdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import type { Transport } from './types.js';

/** The part of the handle engine (drive/transfer-handles.ts) the transport hands files to. */
export interface TransferEngine extends HandleOperations {
  openWrite(input: OpenWriteInput): Promise<string>;
  openRead(input: OpenReadInput): Promise<string>;
  openCount(): Promise<number>;
}

export interface ObjectTransportDeps {
  config: Config;
  log: Log;
  accounts: Accounts;
  folders: ObjectFolders;
  api: () => Promise<DriveApi>;
  engine: TransferEngine;
  check: (transport: ObjectTransport) => Promise<CheckResult>;
  /** What happened last on the account (connector/activity.ts), shown by account(). */
  activity?: { read(object: ObjectRef): Promise<AccountActivity> };
}

export class ObjectTransport implements Transport {
  private readonly name: string;

  constructor(
    readonly object: ObjectRef,
    private readonly names: ObjectNames,
    private readonly deps: ObjectTransportDeps,
  ) {
    this.name = formatObjectRef(object);
  }

  get engine(): TransferEngine {
    return this.deps.engine;
  }

  async isConfigured(): Promise<boolean> {
    if (!this.deps.config.clientId || !this.deps.config.clientSecret) return false;
    return this.deps.accounts.isConnected(this.object);
  }

  async account(): Promise<AccountInfo> {
    if (!(await this.deps.accounts.isConnected(this.object))) return { connected: false };
    const record = await this.deps.accounts.record(this.object);
    const info: AccountInfo = { connected: true, folder: describeFolder(this.object, await this.location()) };
    if (record?.email) info.email = record.email;
    if (record?.connectedAt) info.connectedAt = record.connectedAt;
    return { ...info, ...(await this.deps.activity?.read(this.object)) };
  }

  check(): Promise<CheckResult> {
    return this.deps.check(this);
  }

  async getQuota(): Promise<Quota> {
    const quota = await (await this.api()).quota();
    if (quota.limit === undefined) return {};
    return { total: quota.limit, free: Math.max(0, quota.limit - quota.usage) };
  }

  getHash(): HashInfo {
    return { type: 'md5', blockSize: 0 };
  }

  async stat(path: string): Promise<Entry | null> {
    const names = splitHookPath(path);
    if (names.length === 0) {
      await this.objectFolder();
      return { name: '', size: 0, isDir: true };
    }
    const found = await this.findEntry(names);
    if (!found) return null;
    return toEntry(pickEntry(found.items, this.name, joinHookPath(names), this.deps.log));
  }

  async listDir(path: string): Promise<Entry[]> {
    const names = splitHookPath(path);
    const shown = joinHookPath(names);
    const items = await this.withFreshCache(async () => {
      // No names: the object's folder itself.
      const dir = await this.deps.folders.resolveDir(await this.location(), names, false);
      if (!dir) return null;
      const api = await this.api();
      const children = await this.deps.folders.listChildren(dir.ref, shown);
      // Drive lists children of a deleted folder as an empty list: make sure it still exists.
      if (children.length === 0 && dir.fromCache && !(await api.getItem(dir.ref.id, shown))) {
        throw new StaleCache();
      }
      return children;
    });
    if (!items) {
      const entry = await this.stat(shown);
      throw new GdriveBackupError(entry ? 'not_a_directory' : 'not_found', { path: shown });
    }
    const byName = new Map<string, DriveItem[]>();
    for (const item of items) byName.set(item.name, [...(byName.get(item.name) ?? []), item]);
    return [...byName.values()].map((same) => toEntry(pickEntry(same, this.name, shown, this.deps.log)));
  }

  async createDir(path: string): Promise<void> {
    const names = splitHookPath(path);
    await this.withFreshCache(async () => {
      // No names: the object's folder itself.
      const dir = await this.deps.folders.resolveDir(await this.location(), names, true);
      // A fully cached answer proves nothing: check the folder once, so one deleted behind
      // our back is made again instead of failing every later write.
      if (dir?.fromCache && !(await (await this.api()).getItem(dir.ref.id, joinHookPath(names)))) {
        throw new StaleCache();
      }
    });
  }

  async deleteFile(path: string): Promise<void> {
    const names = splitHookPath(path);
    const shown = joinHookPath(names);
    if (names.length === 0) throw new GdriveBackupError('is_a_directory', { path: shown });
    const found = await this.findEntry(names);
    if (!found) throw new GdriveBackupError('not_found', { path: shown });
    const files = found.items.filter((item) => !item.isFolder);
    if (files.length === 0) throw new GdriveBackupError('is_a_directory', { path: shown });
    const api = await this.api();
    for (const file of files) {
      await api.deleteItem(file.id, shown);
      await this.deps.folders.forgetItem(file.id);
    }
  }

  async deleteDir(path: string): Promise<void> {
    const names = splitHookPath(path);
    const shown = joinHookPath(names);
    if (names.length === 0) {
      throw new GdriveBackupError('invalid_path', {
        path: shown,
        reason: "the object's own folder cannot be deleted",
      });
    }
    const found = await this.findEntry(names);
    if (!found) throw new GdriveBackupError('not_found', { path: shown });
    const folders = found.items.filter((item) => item.isFolder);
    if (folders.length === 0) throw new GdriveBackupError('not_a_directory', { path: shown });
    const api = await this.api();
    for (const folder of folders) {
      await api.deleteItem(folder.id, shown);
      await this.deps.folders.forgetItem(folder.id);
    }
    await this.deps.folders.forgetUnder(names);
  }

  async openFileWrite(path: string): Promise<string> {
    const names = splitHookPath(path);
    const shown = joinHookPath(names);
    const name = names.at(-1);
    if (name === undefined) throw new GdriveBackupError('is_a_directory', { path: shown });
    return this.withFreshCache(async () => {
      // Plesk calls createDir first, but a missing parent is made anyway.
      const parent = await this.deps.folders.resolveDir(await this.location(), names.slice(0, -1), true);
      const existing = await this.deps.folders.findNamed(parent!.ref, name, shown);
      if (existing.some((item) => item.isFolder))
        throw new GdriveBackupError('is_a_directory', { path: shown });
      if (existing.length > 0)
        this.deps.log.info('replacing an existing file once the new one is verified', {
          object: this.name,
          path: shown,
        });
      return this.deps.engine.openWrite({
        object: this.object,
        path: shown,
        name,
        ...folderInput(parent!.ref),
        ...(existing.length > 0 ? { replaces: existing.map((item) => item.id) } : {}),
      });
    });
  }

  async openFileRead(path: string, offset: number): Promise<string> {
    const names = splitHookPath(path);
    const shown = joinHookPath(names);
    // Refused before any Drive request (the engine checks it again for its other callers).
    assertOffset(offset);
    if (names.length === 0) throw new GdriveBackupError('is_a_directory', { path: shown });
    const found = await this.findEntry(names);
    if (!found) throw new GdriveBackupError('not_found', { path: shown });
    const files = found.items.filter((item) => !item.isFolder);
    if (files.length === 0) throw new GdriveBackupError('is_a_directory', { path: shown });
    const file = pickEntry(files, this.name, shown, this.deps.log);
    const input = {
      object: this.object,
      path: shown,
      fileId: file.id,
      size: file.size,
      offset,
      ...(file.md5 ? { md5: file.md5 } : {}),
      ...(found.parent.driveId ? { driveId: found.parent.driveId } : {}),
    };
    return this.deps.engine.openRead(input);
  }

  /** The object's folder (made on first use). */
  async objectFolder(): Promise<FolderRef> {
    return (await this.deps.folders.objectFolder(await this.location())).ref;
  }

  /** Items named like the path's last name in its parent; null when the parent or the name is absent. */
  private async findEntry(names: string[]): Promise<{ parent: FolderRef; items: DriveItem[] } | null> {
    const shown = joinHookPath(names);
    return this.withFreshCache(async () => {
      const parent = await this.deps.folders.resolveDir(await this.location(), names.slice(0, -1), false);
      if (!parent) return null;
      await this.api();
      const items = await this.deps.folders.findNamed(parent.ref, names.at(-1)!, shown);
      return items.length === 0 ? null : { parent: parent.ref, items };
    });
  }

  /**
   * Runs `task`; when a cached folder id proves stale (Drive answers 404 for it), drops the
   * object's cache and runs it once more from fresh look-ups.
   */
  private async withFreshCache<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      if (!(error instanceof StaleCache) && !isGdriveBackupError(error, 'not_found')) throw error;
      this.deps.log.info('cached folder ids are stale; looking them up again', { object: this.name });
      await this.deps.folders.forget();
      try {
        return await task();
      } catch (again) {
        if (again instanceof StaleCache)
          throw new GdriveBackupError('internal', { detail: 'folder cache kept going stale' });
        throw again;
      }
    }
  }

  private async location(): Promise<FolderLocation> {
    const record = await this.deps.accounts.record(this.object);
    const rootSetting = record?.folder || this.deps.config.rootFolder;
    const raw = this.names.name ?? record?.objectName ?? this.object.id ?? this.object.type;
    // Object names become one folder name: no separators, never empty.
    const objectName =
      replaceControlCharacters(raw, '_').replaceAll('/', '_').trim() || (this.object.id ?? this.object.type);
    return { rootSetting, objectName };
  }

  private async api(): Promise<DriveApi> {
    assertClientConfigured(this.deps.config);
    return this.deps.api();
  }
}

/** Thrown when a cached id no longer names a folder on Drive. */
class StaleCache extends Error {}

function toEntry(item: DriveItem): Entry {
  const entry: Entry = { name: item.name, size: item.isFolder ? 0 : item.size, isDir: item.isFolder };
  if (!item.isFolder && item.md5) entry.hash = item.md5;
  return entry;
}

function folderInput(ref: FolderRef): { parentId: string; driveId?: string } {
  return ref.driveId ? { parentId: ref.id, driveId: ref.driveId } : { parentId: ref.id };
}

/**
 * The one of several same-named items (oldest first, at least one) that answers: the oldest
 * folder if there is one, else the newest file Drive has an md5 for (else the newest file).
 * Duplicates are worth a warning.
 */
function pickEntry(items: DriveItem[], object: string, path: string, log: Log): DriveItem {
  if (items.length > 1)
    log.warn('Drive holds several items of this name', { object, path, count: items.length });
  const folder = items.find((item) => item.isFolder);
  if (folder) return folder;
  const newestFirst = [...items].reverse();
  return newestFirst.find((item) => item.md5 !== undefined) ?? newestFirst[0]!;
}
