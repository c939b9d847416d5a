/**
 * The Transport contract: one method per method of Plesk's pm_Hook_Backup_Transport, for one
 * backup object. The HTTP routes, the CLI and the tests all go through it; the PHP hook maps
 * onto it one to one through the HTTP API (see shared design, "HTTP API").
 *
 * The vocabulary it is made of (entries, results, handle operations) is in core/types.ts.
 */

import type { ObjectRef } from '../core/object-ref.js';
import type {
  AccountInfo,
  CheckResult,
  Entry,
  HandleOperations,
  HashInfo,
  OAuthOperations,
  ObjectNames,
  Quota,
  RequestCounts,
} from '../core/types.js';
import type { ClientSecretsStore } from '../store/client-secrets-store.js';

export interface Transport {
  readonly object: ObjectRef;
  isConfigured(): Promise<boolean>;
  account(): Promise<AccountInfo>;
  check(): Promise<CheckResult>;
  getQuota(): Promise<Quota>;
  getHash(): HashInfo;
  stat(path: string): Promise<Entry | null>;
  listDir(path: string): Promise<Entry[]>;
  createDir(path: string): Promise<void>;
  deleteFile(path: string): Promise<void>;
  deleteDir(path: string): Promise<void>;
  openFileWrite(path: string): Promise<string>;
  openFileRead(path: string, offset: number): Promise<string>;
}

export interface Connector extends HandleOperations {
  readonly oauth: OAuthOperations;
  /** The memory secrets store of GDRIVE_SECRETS_STORE=client, which the client loads and drains. */
  readonly clientSecrets?: ClientSecretsStore;
  transport(object: ObjectRef, names?: ObjectNames): Transport;
  /** Number of open read and write handles (the service's idle timeout waits for 0). */
  openHandles(): Promise<number>;
  requestCounts(): RequestCounts;
  close(): Promise<void>;
}
