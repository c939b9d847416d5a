/**
 * The benchmark's data: pseudo-random bytes written into temp files piece by piece (never whole
 * in memory), in the shape Plesk hands them over: appendFile pieces of a fixed size and a
 * shorter last one. Datasets of different sizes share their full pieces, so 512 + 256 + 128 MiB
 * cost 5 full pieces and three tails on disk, not 896 MiB.
 */
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

const MIB = 1024 * 1024;

export interface Dataset {
  size: number;
  /** Bytes per piece file (the last may be shorter). */
  pieceSize: number;
  /** Files in order; their concatenation is the dataset. */
  pieces: string[];
}

export class TestData {
  private readonly full: string[] = [];
  private readonly made = new Map<number, Dataset>();

  constructor(
    private readonly dir: string,
    readonly pieceSize: number,
  ) {}

  /** Writes `bytes` random bytes to `path`, 1 MiB at a time. */
  private async generate(path: string, bytes: number): Promise<void> {
    const file = await open(path, 'wx', 0o600);
    const buffer = Buffer.allocUnsafe(Math.min(MIB, Math.max(bytes, 1)));
    try {
      for (let at = 0; at < bytes; ) {
        const slice = buffer.subarray(0, Math.min(buffer.length, bytes - at));
        randomFillSync(slice);
        await file.write(slice);
        at += slice.length;
      }
    } finally {
      await file.close();
    }
  }

  private async fullPiece(index: number): Promise<string> {
    while (this.full.length <= index) {
      const path = join(this.dir, `piece-${this.full.length}`);
      await this.generate(path, this.pieceSize);
      this.full.push(path);
    }
    return this.full[index]!;
  }

  /** A dataset of `size` bytes: shared full pieces, then its own tail. */
  async dataset(size: number): Promise<Dataset> {
    const known = this.made.get(size);
    if (known) return known;
    const pieces: string[] = [];
    const fullCount = Math.floor(size / this.pieceSize);
    for (let i = 0; i < fullCount; i++) pieces.push(await this.fullPiece(i));
    const tailBytes = size - fullCount * this.pieceSize;
    if (tailBytes > 0) {
      const path = join(this.dir, `tail-${size}`);
      await this.generate(path, tailBytes);
      pieces.push(path);
    }
    const dataset = { size, pieceSize: this.pieceSize, pieces };
    this.made.set(size, dataset);
    return dataset;
  }
}
