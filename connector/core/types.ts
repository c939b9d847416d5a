/**
 * The vocabulary every layer speaks: entries, quota, hashes, a write's result, the options of
 * an append or a read, the handle operations and the OAuth inputs. It sits at the bottom, so the
 * Drive layer, the stores, the service and the CLI all import it downwards; the contracts made
 * of it (Transport, Connector) live in transport/types.ts.
 *
 * Paths are hook paths: relative to the object's Drive folder, '/' separated, '/' is the root.
 * File handles (fd) are opaque strings naming a session kept in the state store, so a
 * restarted connector carries on with them.
 */
import type { ObjectRef } from './object-ref.js';

export interface Entry {
  name: string;
  size: number;
  isDir: boolean;
  /** Drive's checksum of the type getHash() announces; absent for directories. */
  hash?: string;
}

export type HashInfo = { type: 'md5' | 'sha256'; blockSize: 0 } | Record<string, never>;

export type Quota = { total: number; free: number } | Record<string, never>;

export interface CheckResult {
  errors: string[];
  warnings: string[];
}

/** What happened last on an object's account (recorded by connector/activity.ts); times in ISO 8601. */
export interface AccountActivity {
  tokenRefreshedAt?: string;
  /** The last file written and verified by closeFile. */
  lastBackup?: { path: string; size: number; at: string };
  /** The last failed transfer (open, append, close, read), with the admin's sentence. */
  lastError?: { code: string; message: string; path: string; at: string };
}

export interface AccountInfo extends AccountActivity {
  connected: boolean;
  email?: string;
  /** Human-readable location of the object's folder, e.g. "My Drive/Plesk Backups/host/subscription/example.com". */
  folder?: string;
  connectedAt?: string;
}

export interface WriteResult {
  size: number;
  md5: string;
  sha256: string;
}

export interface ObjectNames {
  /** Folder name of the object (domain name, client login); defaults to the id. */
  name?: string;
}

/** Where the local file of an appendFile/readFile may be (the service passes the exchange dirs). */
interface LocalFileOptions {
  /** The file's directory must really be inside one of these; absent: anywhere. */
  allowedDirs?: readonly string[];
}

/** Options of one appendFile call. */
export interface AppendOptions extends LocalFileOptions {
  /**
   * Called as the piece's bytes go out to Drive (about every MiB, not only per piece) with the
   * bytes of this call sent so far; never decreasing; the last call carries the piece's size.
   * Runs on the upload's path: keep it cheap.
   */
  onProgress?: (bytesSentInThisCall: number) => void;
}

/** Options of one readFile call. */
export interface ReadOptions extends LocalFileOptions {
  /** Bytes of this call written into localFile so far (cumulative), called as they arrive. */
  onProgress?: (bytesInThisCall: number) => void;
}

/** Operations on open handles; handles are global to the connector, not to an object. */
export interface HandleOperations {
  /** Appends the whole content of localFile; returns the bytes appended. */
  appendFile(fd: string, localFile: string, options?: AppendOptions): Promise<number>;
  /** Finishes the upload and verifies it against Drive's checksums. */
  closeWrite(fd: string): Promise<WriteResult>;
  /** Drops a write handle without finishing it: nothing is stored, its spool is removed. */
  cancelWrite(fd: string): Promise<void>;
  /** Writes the next `size` bytes (all remaining when null) into localFile; returns bytes written. */
  readFile(fd: string, localFile: string, size: number | null, options?: ReadOptions): Promise<number>;
  closeRead(fd: string): Promise<void>;
}

/** Body of `POST .../oauth/start`. */
export interface OAuthStartInput {
  redirectUri: string;
  /** Folder name of the object (domain name, client login); defaults to its id. */
  name?: string;
  /** The object's own root folder (a path in My Drive, `id:<folderId>`, `drive:<id>[/path]`). */
  folder?: string;
}

/** Body of `POST .../oauth/finish`: Google's answer as the redirect brought it. */
export type OAuthFinishInput = { state: string; code: string } | { state: string; error: string };

/** Counts of Drive/OAuth requests made by this connector, by kind (for tests, demo, bench). */
export type RequestCounts = Record<string, number>;

export interface OAuthOperations {
  /** Consent URL for the object; `state` is single-use and lives 10 minutes. */
  start(object: ObjectRef, input: OAuthStartInput): Promise<{ url: string }>;
  finish(object: ObjectRef, input: OAuthFinishInput): Promise<{ email: string }>;
  /** Revokes the refresh token at Google and forgets it. */
  disconnect(object: ObjectRef): Promise<void>;
}
