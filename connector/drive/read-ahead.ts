/**
 * Read-ahead of a read handle: once a readFile's bytes are downloaded, the next piece of the
 * same size is downloaded into `<dataDir>/read-ahead/<fd>-<start>` (0600) while the current one
 * is copied out and Plesk unpacks it, so the next readFile only copies it into its target and a
 * restore takes about max(download, Plesk's work) instead of their sum. Each piece has a file of
 * its own: the next one starts before the last one is copied out and removed.
 *
 * Bounded: one piece per handle, of at most config.readAheadMax bytes, never for a read of
 * everything left. The piece is verified as it arrives like any read (each range's
 * Content-Range; with a whole-file read, the md5 runs on in file order from the handle's state,
 * so the last readFile still compares Drive's md5 of every byte). It is used only by a readFile
 * at its offset asking its size; any other read, a failure, closeFile and a restart discard it
 * (a restarted process removes the whole directory: only the process holding the data-dir lock
 * writes there). Pieces live in memory state only; nothing of them is persisted in records.
 */
import { constants } from 'node:fs';
import { copyFile, type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from '../log.js';
import { openLocalForRead } from './local-files.js';
import { type DownloadEnv, downloadSlice } from './ranged-download.js';
import type { FailureContext } from './retry.js';
import type { DownloadHash } from './stream-hash.js';

export const READ_AHEAD_DIR = 'read-ahead';
/** Reads smaller than this are not worth a second request (and stay one request each). */
export const READ_AHEAD_MIN = 1024 * 1024;

export interface AheadRequest {
  fileId: string;
  /** [start, end) of the Drive file. */
  start: number;
  end: number;
  context: FailureContext;
  /** The whole-file md5 as it stands after the current read; advanced over the piece. */
  hash?: DownloadHash;
}

interface Piece {
  start: number;
  end: number;
  path: string;
  hash: DownloadHash | undefined;
  stop: AbortController;
  /** Settles when the piece is complete (true) or failed/stopped (false); never rejects. */
  done: Promise<boolean>;
  /** Bytes written so far, and who wants to hear of them. */
  received: number;
  listener?: (received: number) => void;
}

/** A piece ready for a readFile: copy it into the target, then release it. */
export interface ReadyPiece {
  hash: DownloadHash | undefined;
  /** Copies the piece into the (truncated) target, reporting `bytes` when done. */
  copyTo(target: FileHandle): Promise<void>;
}

export class ReadAheads {
  private readonly pieces = new Map<string, Piece>();
  private readonly dir: string;

  constructor(
    dataDir: string,
    private readonly log: Log,
  ) {
    this.dir = join(dataDir, READ_AHEAD_DIR);
  }

  /** Removes the pieces an earlier process left behind (call before any start). */
  async clearLeftovers(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * Starts downloading the piece for fd (the caller took or discarded the last one, which may
   * still be copied out); it is registered at once, so a close right after finds it.
   */
  start(fd: string, envFor: () => Promise<DownloadEnv>, request: AheadRequest): void {
    const path = join(this.dir, `${fd}-${request.start}`);
    const stop = new AbortController();
    const piece: Piece = {
      start: request.start,
      end: request.end,
      path,
      hash: request.hash,
      stop,
      received: 0,
      done: Promise.resolve(false),
    };
    piece.done = (async () => {
      const env = await envFor();
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const target = await openLocalForRead(path);
      try {
        await downloadSlice(
          env,
          {
            fileId: request.fileId,
            start: request.start,
            end: request.end,
            target,
            localFile: path,
            context: request.context,
            signal: stop.signal,
            onBytes: (bytes) => {
              piece.received += bytes;
              piece.listener?.(piece.received);
            },
          },
          request.hash === undefined ? undefined : (bytes) => request.hash!.update(bytes),
        );
      } finally {
        await target.close();
      }
      return true;
    })().catch((error: unknown) => {
      if (!stop.signal.aborted)
        this.log.debug('read-ahead: piece failed; the next read downloads it itself', {
          fd,
          error: error instanceof Error ? error.message : String(error),
        });
      return false;
    });
    this.pieces.set(fd, piece);
  }

  /**
   * The finished piece of fd for [start, end), waiting for it if it is still arriving
   * (`onProgress` hears its bytes meanwhile); undefined when there is none, it is for another
   * range (then discarded) or it failed.
   */
  async take(
    fd: string,
    start: number,
    end: number,
    onProgress?: (received: number) => void,
  ): Promise<ReadyPiece | undefined> {
    const piece = this.pieces.get(fd);
    if (piece === undefined) return undefined;
    this.pieces.delete(fd);
    if (piece.start !== start || piece.end !== end) {
      await this.release(piece);
      return undefined;
    }
    if (onProgress !== undefined) {
      piece.listener = onProgress;
      if (piece.received > 0) onProgress(piece.received);
    }
    const ok = await piece.done;
    piece.listener = undefined;
    if (!ok) {
      await this.release(piece);
      return undefined;
    }
    return {
      hash: piece.hash,
      copyTo: async (target) => {
        try {
          try {
            // Through the descriptor's own name: the target is never looked up by its path again.
            // libuv copies in the kernel (copy_file_range / sendfile), after truncating it and
            // setting its mode, which fails on a target owned by another user: copy by hand then.
            // Where the file system can share the blocks (btrfs, XFS), nothing is copied at all.
            await copyFile(piece.path, `/proc/self/fd/${target.fd}`, constants.COPYFILE_FICLONE);
          } catch {
            await copyByHand(piece.path, target, piece.end - piece.start);
          }
        } finally {
          await this.release(piece);
        }
      },
    };
  }

  /** Stops and removes fd's piece, if any. */
  async discard(fd: string): Promise<void> {
    const piece = this.pieces.get(fd);
    if (piece === undefined) return;
    this.pieces.delete(fd);
    await this.release(piece);
  }

  has(fd: string): boolean {
    return this.pieces.has(fd);
  }

  private async release(piece: Piece): Promise<void> {
    piece.stop.abort();
    await piece.done;
    await rm(piece.path, { force: true });
  }
}

async function copyByHand(from: string, target: FileHandle, length: number): Promise<void> {
  const source = await open(from, 'r');
  try {
    await target.truncate(0);
    const buffer = Buffer.allocUnsafeSlow(Math.min(length, 4 * 1024 * 1024));
    for (let at = 0; at < length; ) {
      const { bytesRead } = await source.read(buffer, 0, Math.min(buffer.length, length - at), at);
      if (bytesRead === 0) throw new Error('the read-ahead piece is shorter than it was');
      for (let written = 0; written < bytesRead; )
        written += (await target.write(buffer, written, bytesRead - written, at + written)).bytesWritten;
      at += bytesRead;
    }
  } finally {
    await source.close();
  }
}
