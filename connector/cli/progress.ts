/**
 * Progress of `put`/`get` (--progress): `auto` draws a bar with rate and ETA on a terminal
 * (stderr) and nothing in pipes and logs, so scripts see only the last line; `lines` prints
 * `progress <done> <total>` on stderr at each step, for scripts that want to follow;
 * `none` prints nothing.
 */
import cliProgress from 'cli-progress';
import { formatBytes, mibPerSecond } from './format.js';

export type ProgressMode = 'auto' | 'lines' | 'none';

export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'lines', 'none'];

interface Progress {
  update(done: number): void;
  stop(): void;
}

const silent: Progress = { update: () => {}, stop: () => {} };

function progressLines(total: number): Progress {
  let shown = -1;
  return {
    update: (done) => {
      if (done === shown) return;
      shown = done;
      process.stderr.write(`progress ${done} ${total}\n`);
    },
    stop: () => {},
  };
}

function progressBar(label: string, total: number, mode: ProgressMode): Progress {
  if (mode === 'none') return silent;
  if (mode === 'lines') return progressLines(total);
  if (!process.stderr.isTTY) return silent;
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
  mode: ProgressMode,
  transfer: (onProgress: (done: number, total: number) => void) => Promise<T>,
): Promise<T> {
  let bar: Progress | undefined;
  try {
    return await transfer((done, total) => {
      bar ??= progressBar(label, total, mode);
      bar.update(done);
    });
  } finally {
    bar?.stop();
  }
}
