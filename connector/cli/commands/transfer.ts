/** `put LOCAL REMOTE` and `get REMOTE LOCAL`. */
import { Command, Option } from 'commander';
import { formatObjectRef } from '../../core/object-ref.js';
import { mibPerSecond } from '../format.js';
import { addConfigOptions, byteCount, positiveByteCount, withBackend, withExamples } from '../options.js';
import { PROGRESS_MODES, type ProgressMode, withProgressBar } from '../progress.js';
import { getFile, PLESK_PIECE, putFile } from '../transfer.js';

function summary(verb: string, bytes: number, elapsedMs: number, sha256: string): string {
  return `${verb} ${bytes} bytes in ${(elapsedMs / 1000).toFixed(1)} s, ${mibPerSecond(bytes, elapsedMs)} MiB/s, sha256 ${sha256}\n`;
}

/**
 * Runs a transfer with Ctrl-C wired to its signal: the first Ctrl-C lets the piece in flight
 * end, then the transfer cancels its handle and throws Interrupted (exit 130); a second one
 * quits at once, leaving the handle for the service's clean-up.
 */
async function interruptible<T>(verb: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(
      `\ninterrupted: cancelling the ${verb} once the piece in flight is done (Ctrl-C again to quit at once)\n`,
    );
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function progressOption(): Option {
  return new Option(
    '--progress <when>',
    'auto: a bar on a terminal; lines: "progress DONE TOTAL" lines on stderr; none',
  )
    .choices(PROGRESS_MODES)
    .default('auto');
}

export function putCommand(): Command {
  const command = new Command('put')
    .description(
      'Upload LOCAL to REMOTE as Plesk does: openFileWrite, appendFile of pieces, closeFile (verified)',
    )
    .argument('<local>', 'local file')
    .argument('<remote>', 'path relative to the object folder')
    .addOption(
      new Option('--piece-size <size>', 'bytes per appendFile piece, e.g. 100MiB (Plesk: 100 MiB)')
        .argParser(positiveByteCount)
        .default(PLESK_PIECE, '100MiB'),
    )
    .addOption(progressOption());
  addConfigOptions(command, ['chunkSize', 'maxAttempts', 'retryBaseMs', 'bandwidthLimit']);
  withExamples(
    command,
    'gdrive-backup put backup.tar /dumps/backup.tar',
    'gdrive-backup put --object subscription:12 --piece-size 16MiB --chunk-size 8MiB site.tar /2611/site.tar',
  );
  return command.action(async (local: string, remote: string, options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object, config) => {
      const result = await interruptible('upload', (signal) =>
        withProgressBar(
          `put ${formatObjectRef(object)}:${remote}`,
          options.progress as ProgressMode,
          (onProgress) =>
            putFile({
              backend,
              object,
              dataDir: config.dataDir,
              local,
              remote,
              pieceSize: options.pieceSize as number,
              onProgress,
              signal,
            }),
        ),
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
    .addOption(new Option('--offset <size>', 'start reading here').argParser(byteCount).default(0))
    .addOption(
      new Option('--size <size>', 'read at most this many bytes (default: to the end)').argParser(byteCount),
    )
    .addOption(
      new Option('--piece-size <size>', 'bytes per readFile call, e.g. 100MiB')
        .argParser(positiveByteCount)
        .default(PLESK_PIECE, '100MiB'),
    )
    .addOption(progressOption());
  addConfigOptions(command, [
    'downloadStreams',
    'downloadRangeSize',
    'maxAttempts',
    'retryBaseMs',
    'bandwidthLimit',
  ]);
  withExamples(
    command,
    'gdrive-backup get /dumps/backup.tar restored.tar',
    'gdrive-backup get --offset 100MiB --size 1MiB /dumps/backup.tar part.bin',
  );
  return command.action(async (remote: string, local: string, options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object, config) => {
      const result = await interruptible('download', (signal) =>
        withProgressBar(
          `get ${formatObjectRef(object)}:${remote}`,
          options.progress as ProgressMode,
          (onProgress) =>
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
              signal,
            }),
        ),
      );
      process.stdout.write(summary('get', result.bytes, result.elapsedMs, result.sha256));
    });
  });
}
