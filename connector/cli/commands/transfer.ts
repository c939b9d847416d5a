/** `put LOCAL REMOTE` and `get REMOTE LOCAL`. */
import { Command, Option } from 'commander';
import { formatObjectRef } from '../../transport/object-ref.js';
import { mibPerSecond } from '../format.js';
import { addConfigOptions, byteCount, positiveByteCount, withBackend } from '../options.js';
import { withProgressBar } from '../progress.js';
import { getFile, PLESK_PIECE, putFile } from '../transfer.js';

function summary(verb: string, bytes: number, elapsedMs: number, sha256: string): string {
  return `${verb} ${bytes} bytes in ${(elapsedMs / 1000).toFixed(1)} s, ${mibPerSecond(bytes, elapsedMs)} MiB/s, sha256 ${sha256}\n`;
}

export function putCommand(): Command {
  const command = new Command('put')
    .description(
      'Upload LOCAL to REMOTE as Plesk does: openFileWrite, appendFile of pieces, closeFile (verified)',
    )
    .argument('<local>', 'local file')
    .argument('<remote>', 'path relative to the object folder')
    .addOption(
      new Option('--piece-size <bytes>', 'bytes per appendFile piece (Plesk: 100 MiB)')
        .argParser(positiveByteCount)
        .default(PLESK_PIECE, '100MiB'),
    );
  addConfigOptions(command, ['chunkSize', 'maxAttempts', 'retryBaseMs']);
  return command.action(async (local: string, remote: string, options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object, config) => {
      const result = await withProgressBar(`put ${formatObjectRef(object)}:${remote}`, (onProgress) =>
        putFile({
          backend,
          object,
          dataDir: config.dataDir,
          local,
          remote,
          pieceSize: options.pieceSize as number,
          onProgress,
        }),
      );
      process.stdout.write(summary('put', result.bytes, result.elapsedMs, result.sha256));
    });
  });
}

export function getCommand(): Command {
  const command = new Command('get')
    .description('Download REMOTE to LOCAL as Plesk restores: openFileRead, readFile of pieces, closeFile')
    .argument('<remote>', 'path relative to the object folder')
    .argument('<local>', 'local file (created or overwritten)')
    .addOption(new Option('--offset <bytes>', 'start reading here').argParser(byteCount).default(0))
    .addOption(
      new Option('--size <bytes>', 'read at most this many bytes (default: to the end)').argParser(byteCount),
    )
    .addOption(
      new Option('--piece-size <bytes>', 'bytes per readFile call')
        .argParser(positiveByteCount)
        .default(PLESK_PIECE, '100MiB'),
    );
  addConfigOptions(command, ['downloadStreams', 'downloadRangeSize', 'maxAttempts', 'retryBaseMs']);
  return command.action(async (remote: string, local: string, options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object, config) => {
      const result = await withProgressBar(`get ${formatObjectRef(object)}:${remote}`, (onProgress) =>
        getFile({
          backend,
          object,
          dataDir: config.dataDir,
          remote,
          local,
          offset: options.offset as number,
          ...(options.size === undefined ? {} : { size: options.size as number }),
          pieceSize: options.pieceSize as number,
          onProgress,
        }),
      );
      process.stdout.write(summary('get', result.bytes, result.elapsedMs, result.sha256));
    });
  });
}
