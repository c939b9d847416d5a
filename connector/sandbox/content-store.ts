/**
 * File bytes of the sandbox live on disk, one file per Drive file, never whole in memory, so
 * multi-GiB uploads work. MD5 and SHA-256 are computed while the bytes are written, as Drive
 * does, and only over bytes actually persisted.
 */
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Digests {
  md5: string;
  sha256: string;
}

export class ContentStore {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(join(this.dir, 'content'), { recursive: true });
    await mkdir(join(this.dir, 'uploads'), { recursive: true });
  }

  contentPath(fileId: string): string {
    return join(this.dir, 'content', fileId);
  }

  partPath(uploadId: string): string {
    return join(this.dir, 'uploads', uploadId);
  }

  /** Moves a finished upload's bytes to the file's place. */
  async adopt(partPath: string, fileId: string): Promise<void> {
    await rename(partPath, this.contentPath(fileId));
  }

  /** A file created from metadata alone has zero bytes. */
  async writeEmpty(fileId: string): Promise<void> {
    await writeFile(this.contentPath(fileId), '');
  }

  async remove(fileId: string): Promise<void> {
    await rm(this.contentPath(fileId), { force: true });
  }
}

/** An append-only file with running MD5/SHA-256 of what has been written. */
export class HashingWriter {
  private readonly md5: Hash = createHash('md5');
  private readonly sha256: Hash = createHash('sha256');
  /** Bytes durably handed to the file system. */
  length = 0;

  private constructor(
    readonly path: string,
    private handle: FileHandle | null,
  ) {}

  static async create(path: string): Promise<HashingWriter> {
    return new HashingWriter(path, await open(path, 'w'));
  }

  async write(data: Buffer): Promise<void> {
    if (!this.handle) throw new Error('writer closed');
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, this.length + done);
      done += bytesWritten;
    }
    this.md5.update(data);
    this.sha256.update(data);
    this.length += data.length;
  }

  /** The digests so far; the writer stays usable. */
  digests(): Digests {
    return { md5: this.md5.copy().digest('hex'), sha256: this.sha256.copy().digest('hex') };
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}
