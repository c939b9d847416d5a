// The two sizes of the reliability suite: `npm test` runs the CI profile (every row, small
// seeds and files); `npm run test:reliability -- --full` sets RELIABILITY_PROFILE=full.
import { prng } from '../../connector/sandbox/faults.js';

const KIB = 1024;
const MIB = 1024 * KIB;

export interface Profile {
  name: 'ci' | 'full';
  /** Seeds of the fault matrix: each seed places every fault at another occurrence of its operation. */
  matrixSeeds: number[];
  /** Size of the backup in one matrix cell (cut in two appends). */
  matrixFileBytes: number;
  /** Crash runs, one per seed; each kills the service at `crashKills` moments. */
  crashSeeds: number[];
  crashFiles: number;
  crashPieces: number;
  crashPieceBytes: number;
  /** Reads per restored file. */
  crashReads: number;
  /** Concurrent backups and as many restores. */
  loadTransfers: number;
  loadFileBytes: number;
  loadSeeds: number[];
}

export const CI: Profile = {
  name: 'ci',
  matrixSeeds: [1],
  matrixFileBytes: 2 * 256 * KIB + 100_001,
  crashSeeds: [1],
  crashFiles: 2,
  crashPieces: 2,
  crashPieceBytes: 600 * KIB + 17,
  crashReads: 2,
  loadTransfers: 16,
  loadFileBytes: 512 * KIB + 3,
  loadSeeds: [1],
};

export const FULL: Profile = {
  name: 'full',
  matrixSeeds: [1, 2, 3],
  matrixFileBytes: 6 * 256 * KIB + 123_457,
  crashSeeds: [1, 2, 3, 4],
  crashFiles: 3,
  crashPieces: 4,
  crashPieceBytes: 3 * MIB + 1234,
  crashReads: 4,
  loadTransfers: 16,
  loadFileBytes: 8 * MIB + 5,
  loadSeeds: [1, 2],
};

export const PROFILE: Profile = process.env.RELIABILITY_PROFILE === 'full' ? FULL : CI;

/** The sandbox's own seeded generator: the same seed always gives the same moments. */
export const seeded = prng;

/** An integer in [low, high] from `random`. */
export function between(random: () => number, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}
