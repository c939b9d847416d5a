/**
 * Running md5 + sha256 of an upload that survives a connector restart.
 *
 * Drive's final answer carries md5Checksum and sha256Checksum; we compare them with our own
 * hashes of every byte appended. An upload can span many appendFile calls and a restart of the
 * service, so the hashers' internal state is saved (hash-wasm's save()/load()) into the
 * handle's persisted record after each call instead of re-reading what was already sent.
 */
import { createMD5, createSHA256, type IHasher } from 'hash-wasm';

/** The hashers' saved internal states, base64, as stored in a handle record. */
export interface SavedHashState {
  md5: string;
  sha256: string;
}

export interface Digests {
  md5: string;
  sha256: string;
}

export class UploadHash {
  private constructor(
    private readonly md5: IHasher,
    private readonly sha256: IHasher,
  ) {}

  /** Fresh hashers, or resumed from a saved state. */
  static async create(saved?: SavedHashState): Promise<UploadHash> {
    const md5 = await createMD5();
    const sha256 = await createSHA256();
    md5.init();
    sha256.init();
    if (saved) {
      md5.load(Buffer.from(saved.md5, 'base64'));
      sha256.load(Buffer.from(saved.sha256, 'base64'));
    }
    return new UploadHash(md5, sha256);
  }

  update(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.md5.update(bytes);
    this.sha256.update(bytes);
  }

  save(): SavedHashState {
    return {
      md5: Buffer.from(this.md5.save()).toString('base64'),
      sha256: Buffer.from(this.sha256.save()).toString('base64'),
    };
  }

  /** Final hex digests; the hashers cannot be updated afterwards. */
  digest(): Digests {
    return { md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}

/** Running md5 of a whole-file download, resumable across readFile calls the same way. */
export class DownloadHash {
  private constructor(private readonly md5: IHasher) {}

  static async create(saved?: string): Promise<DownloadHash> {
    const md5 = await createMD5();
    md5.init();
    if (saved !== undefined) md5.load(Buffer.from(saved, 'base64'));
    return new DownloadHash(md5);
  }

  update(bytes: Uint8Array): void {
    if (bytes.length > 0) this.md5.update(bytes);
  }

  save(): string {
    return Buffer.from(this.md5.save()).toString('base64');
  }

  digest(): string {
    return this.md5.digest('hex');
  }
}
