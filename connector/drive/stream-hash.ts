/**
 * Running hashes of an upload (md5 that survives a connector restart, sha256 that does not) and
 * of a whole-file download (md5).
 *
 * Drive's final answer carries md5Checksum and sha256Checksum; we compare them with our own
 * hashes of every byte appended. An upload can span many appendFile calls and a restart of the
 * service, so the md5 hasher runs in hash-wasm, whose internal state can be saved (save()/load())
 * into the handle's persisted record after each call instead of re-reading what was already sent.
 *
 * sha256 in WebAssembly is about 7 times slower than node:crypto and was most of the service's
 * CPU, so sha256 is a node:crypto Hash held in memory only (per fd, by transfer-handles.ts). The
 * trade-off: after a restart between two appendFile calls that sha256 is gone, the upload is
 * verified by size and md5 alone and the sha256 reported is Drive's own.
 *
 * Cost, measured on the 2-core build machine (1 MiB updates): md5 in hash-wasm 1.85 CPU s/GiB
 * (node:crypto's md5 would be 1.44, but its state cannot be saved), sha256 in node:crypto 0.6.
 * That is about three quarters of an upload's CPU (3.2-3.3 CPU s/GiB in all, measured with
 * test/connector/upload-cpu.ts); every byte is hashed once (resumable-upload.ts, UploadBytes).
 */
import { createHash, type Hash } from 'node:crypto';
import { createMD5, type IHasher } from 'hash-wasm';

/** The md5 hasher's saved internal state, base64, as stored in a handle record. */
export interface SavedHashState {
  md5: string;
}

export interface Digests {
  md5: string;
  /** Absent when no in-memory sha256 covered every byte (a restart in between). */
  sha256?: string;
}

export class UploadHash {
  private constructor(
    private readonly md5: IHasher,
    private readonly sha256: Hash | undefined,
  ) {}

  /**
   * md5 fresh or resumed from a saved state. `liveSha256` is the in-memory sha256 of the same
   * bytes, or undefined once it is lost; it is copied, never advanced, so a call that fails
   * leaves the caller's hasher as it was, like the persisted md5 state.
   */
  static async create(saved?: SavedHashState, liveSha256?: Hash): Promise<UploadHash> {
    return new UploadHash(await md5From(saved?.md5), liveSha256?.copy());
  }

  /** A fresh sha256 for a new handle. */
  static freshSha256(): Hash {
    return createHash('sha256');
  }

  update(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.md5.update(bytes);
    this.sha256?.update(bytes);
  }

  save(): SavedHashState {
    return { md5: saveMd5(this.md5) };
  }

  /** The sha256 of every byte so far, to become the caller's live one once the call succeeded. */
  liveSha256(): Hash | undefined {
    return this.sha256;
  }

  /** Final hex digests; the hashers cannot be updated afterwards. */
  digest(): Digests {
    const digests: Digests = { md5: this.md5.digest('hex') };
    if (this.sha256 !== undefined) digests.sha256 = this.sha256.digest('hex');
    return digests;
  }
}

/** Running md5 of a whole-file download, resumable across readFile calls the same way. */
export class DownloadHash {
  private constructor(private readonly md5: IHasher) {}

  static async create(saved?: string): Promise<DownloadHash> {
    return new DownloadHash(await md5From(saved));
  }

  update(bytes: Uint8Array): void {
    if (bytes.length > 0) this.md5.update(bytes);
  }

  save(): string {
    return saveMd5(this.md5);
  }

  digest(): string {
    return this.md5.digest('hex');
  }
}

/** An md5 hasher, fresh or resumed from a state saved by saveMd5. */
async function md5From(saved: string | undefined): Promise<IHasher> {
  const md5 = await createMD5();
  md5.init();
  if (saved !== undefined) md5.load(Buffer.from(saved, 'base64'));
  return md5;
}

/** The md5 hasher's internal state, base64, as a handle record keeps it. */
function saveMd5(md5: IHasher): string {
  return Buffer.from(md5.save()).toString('base64');
}
