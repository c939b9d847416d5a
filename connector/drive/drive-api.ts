/**
 * Drive metadata calls for one object, with googleapis' generated Drive v3 client.
 *
 * Every call runs under the connector's Pacer (the one retry policy) and asks only for the
 * fields it uses. Shared drives need `supportsAllDrives` on every call and `corpora=drive` +
 * `driveId` + `includeItemsFromAllDrives` on lists; `driveId` is passed down wherever the
 * folder lives in one.
 */
import { drive, type drive_v3 } from '@googleapis/drive';
import type { Config } from '../config/config.js';
import { isGdriveBackupError } from '../errors/errors.js';
import type { Log } from '../log.js';
import type { DriveHttp } from './drive-http.js';
import { qLiteral } from './paths.js';
import { driveReason, type FailureContext, type Pacer } from './retry.js';

export const FOLDER_MIME = 'application/vnd.google-apps.folder';

export interface DriveItem {
  id: string;
  name: string;
  isFolder: boolean;
  size: number;
  md5?: string;
  createdTime?: string;
}

/** Where a folder is: its id, and the shared drive holding it (absent for My Drive). */
export interface FolderRef {
  id: string;
  driveId?: string;
}

export interface Quota {
  limit?: number;
  usage: number;
}

const ITEM_FIELDS = 'id,name,mimeType,size,md5Checksum,createdTime';
const LIST_PAGE_SIZE = 1000;

export class DriveApi {
  private readonly drive: drive_v3.Drive;

  constructor(
    http: DriveHttp,
    private readonly pacer: Pacer,
    config: Config,
    private readonly log: Log,
    /** The object's name for error sentences. */
    private readonly object: string,
  ) {
    this.drive = drive({
      version: 'v3',
      rootUrl: config.apiRoot,
      retry: false,
      // googleapis-common bundles its own google-auth-library copy, whose OAuth2Client type
      // differs from ours; it only calls `auth.request()`, and handing it our DriveHttp keeps
      // its requests on the same refresh / reconnect / counting path as the uploads.
      auth: http as unknown as drive_v3.Options['auth'],
    });
  }

  private run<T>(label: string, context: FailureContext, fn: () => Promise<T>): Promise<T> {
    return this.pacer.run(label, { object: this.object, ...context }, fn);
  }

  /**
   * Children of `parent` called exactly `name`, oldest first (Drive allows duplicates). Drive's
   * `name =` matches regardless of case (rclone re-filters its hits for this reason,
   * backend/drive/drive.go), so `backup.tar` must not answer for `Backup.tar`.
   */
  async findChildren(parent: FolderRef, name: string, path: string): Promise<DriveItem[]> {
    const q = `name = ${qLiteral(name)} and ${qLiteral(parent.id)} in parents and trashed = false`;
    const items = await this.list(parent, q, path, 100);
    return items.filter((item) => item.name === name);
  }

  /** Every child of `parent`, all pages, oldest first. */
  async listChildren(parent: FolderRef, path: string): Promise<DriveItem[]> {
    return this.list(parent, `${qLiteral(parent.id)} in parents and trashed = false`, path, LIST_PAGE_SIZE);
  }

  private async list(parent: FolderRef, q: string, path: string, pageSize: number): Promise<DriveItem[]> {
    const items: DriveItem[] = [];
    let pageToken: string | undefined;
    do {
      const params: drive_v3.Params$Resource$Files$List = {
        q,
        pageSize,
        orderBy: 'createdTime',
        fields: `nextPageToken,files(${ITEM_FIELDS})`,
        supportsAllDrives: true,
        ...(pageToken ? { pageToken } : {}),
        ...(parent.driveId
          ? { corpora: 'drive', driveId: parent.driveId, includeItemsFromAllDrives: true }
          : {}),
      };
      const response = await this.run('files.list', { path }, () => this.drive.files.list(params));
      for (const file of response.data.files ?? []) items.push(toItem(file));
      pageToken = response.data.nextPageToken ?? undefined;
    } while (pageToken);
    return items;
  }

  /** The item, or null when Drive does not know it (or it is in the trash). */
  async getItem(
    id: string,
    path: string,
  ): Promise<(DriveItem & { driveId?: string; parents?: string[] }) | null> {
    try {
      const response = await this.run('files.get', { path }, () =>
        this.drive.files.get({
          fileId: id,
          fields: `${ITEM_FIELDS},trashed,driveId,parents`,
          supportsAllDrives: true,
        }),
      );
      if (response.data.trashed) return null;
      const item: DriveItem & { driveId?: string; parents?: string[] } = toItem(response.data);
      if (response.data.driveId) item.driveId = response.data.driveId;
      if (response.data.parents) item.parents = response.data.parents;
      return item;
    } catch (error) {
      if (isGdriveBackupError(error, 'not_found')) return null;
      throw error;
    }
  }

  async createFolder(parent: FolderRef, name: string, path: string): Promise<DriveItem> {
    const response = await this.run('files.create', { path }, () =>
      this.drive.files.create({
        requestBody: { name, mimeType: FOLDER_MIME, parents: [parent.id] },
        fields: ITEM_FIELDS,
        supportsAllDrives: true,
      }),
    );
    this.log.debug('folder created', { object: this.object, path });
    return toItem(response.data);
  }

  /**
   * Permanent delete (a folder takes its contents with it). In a shared drive only an organizer
   * may delete; a content manager gets 403 insufficientFilePermissions (Google's files.delete
   * reference), and the item goes to the trash instead, which a content manager may do.
   * Returns how it went.
   */
  async deleteItem(id: string, path: string): Promise<'deleted' | 'trashed'> {
    try {
      await this.run('files.delete', { path }, () =>
        this.drive.files.delete({ fileId: id, supportsAllDrives: true }),
      );
      return 'deleted';
    } catch (error) {
      if (driveReason(error) !== 'insufficientFilePermissions') throw error;
      await this.run('files.update', { path }, () =>
        this.drive.files.update({
          fileId: id,
          requestBody: { trashed: true },
          fields: 'id',
          supportsAllDrives: true,
        }),
      );
      this.log.info('no permission to delete permanently (a shared drive content manager?): moved to trash', {
        object: this.object,
        path,
      });
      return 'trashed';
    }
  }

  async email(): Promise<string> {
    const response = await this.run('about.get', {}, () =>
      this.drive.about.get({ fields: 'user(emailAddress)' }),
    );
    return response.data.user?.emailAddress ?? '';
  }

  async quota(): Promise<Quota> {
    const response = await this.run('about.get', {}, () => this.drive.about.get({ fields: 'storageQuota' }));
    const quota = response.data.storageQuota ?? {};
    const result: Quota = { usage: Number(quota.usage ?? 0) };
    if (quota.limit !== undefined && quota.limit !== null) result.limit = Number(quota.limit);
    return result;
  }
}

function toItem(file: drive_v3.Schema$File): DriveItem {
  const item: DriveItem = {
    id: file.id ?? '',
    name: file.name ?? '',
    isFolder: file.mimeType === FOLDER_MIME,
    size: Number(file.size ?? 0),
  };
  if (file.md5Checksum) item.md5 = file.md5Checksum;
  if (file.createdTime) item.createdTime = file.createdTime;
  return item;
}
