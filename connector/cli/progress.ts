/**
 * Progress of `put`/`get`: a bar with rate and ETA on a terminal (stderr), nothing in pipes and
 * logs, so scripts see only the last line.
 */
import cliProgress from 'cli-progress';
import { formatBytes, mibPerSecond } from './format.js';

interface Progress {
  update(done: number): void;
  stop(): void;
}

function progressBar(label: string, total: number): Progress {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const started = Date.now();
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {done} of {size} | {rate} MiB/s | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0, { done: formatBytes(0), size: formatBytes(total), rate: '0.0' });
  return {
    update: (done) =>
      bar.update(done, { done: formatBytes(done), rate: mibPerSecond(done, Date.now() - started) }),
    stop: () => bar.stop(),
  };
}

/**
 * Runs `transfer` with an onProgress that shows a bar (made at the first call, which brings the
 * total); the bar is gone when this returns or throws, before the caller prints its summary.
 */
export async function withProgressBar<T>(
  label: string,
  transfer: (onProgress: (done: number, total: number) => void) => Promise<T>,
): Promise<T> {
  let bar: Progress | undefined;
  try {
    return await transfer((done, total) => {
      bar ??= progressBar(label, total);
      bar.update(done);
    });
  } finally {
    bar?.stop();
  }
}
