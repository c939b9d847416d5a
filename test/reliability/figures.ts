// The suite's own figures: each test file keeps a Tally and writes it to
// dist/reliability/<section>.json when it ends; figures-setup.ts merges the files of a run into
// dist/reliability.json and prints the table (scripts/reliability-table.mjs renders it).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROFILE } from './profile.js';

export const FRAGMENT_DIR = join('dist', 'reliability');

/** The figures of each section; `peak*` figures merge by maximum, the others by sum. */
export interface SectionFigures {
  matrix: 'cells' | 'operations' | 'faultKinds' | 'faultsInjected' | 'faultsSurvived';
  final: 'probes' | 'endedClean';
  crash: 'kills' | 'survived' | 'filesVerified';
  load:
    | 'concurrentTransfers'
    | 'transfersVerified'
    | 'faultsInjected'
    | 'faultsSurvived'
    | 'peakRssBytes'
    | 'peakFds';
  /** Refused with a clear 4xx, or handled safely (serialised appends, reads past the end). */
  hostile: 'inputs' | 'refused' | 'handled';
  secrets: 'filesScanned' | 'logLines' | 'errorBodies' | 'secretsFound';
  /** Every section adds to these. */
  bytes: 'verified' | 'lost';
}
export type Section = keyof SectionFigures;

export type Fragment = { profile: string } & { [S in Section]?: Partial<Record<SectionFigures[S], number>> };

export class Tally<S extends Exclude<Section, 'bytes'>> {
  private readonly figures: Partial<Record<SectionFigures[S], number>> = {};
  private readonly bytes: Record<SectionFigures['bytes'], number> = { verified: 0, lost: 0 };

  constructor(private readonly section: S) {}

  add(key: SectionFigures[S], n = 1): void {
    this.figures[key] = (this.figures[key] ?? 0) + n;
  }

  /** Sets the figure (for counts fixed by the suite, not by the run). */
  set(key: SectionFigures[S], n: number): void {
    this.figures[key] = n;
  }

  peak(key: SectionFigures[S], n: number): void {
    this.figures[key] = Math.max(this.figures[key] ?? 0, n);
  }

  /**
   * Runs a transfer of `size` bytes whose `check` resolves true once every byte verified; a
   * check that throws or resolves false counts the bytes as lost (and rethrows).
   */
  async transfer<T>(size: number, check: () => Promise<T>): Promise<T> {
    try {
      const result = await check();
      if (result === false) this.bytes.lost += size;
      else this.bytes.verified += size;
      return result;
    } catch (error) {
      this.bytes.lost += size;
      throw error;
    }
  }

  /** Counts bytes that are gone although they should not be (a lost old copy). */
  lost(size: number): void {
    this.bytes.lost += size;
  }

  async write(): Promise<void> {
    await mkdir(FRAGMENT_DIR, { recursive: true });
    const fragment: Fragment = { profile: PROFILE.name, [this.section]: this.figures, bytes: this.bytes };
    await writeFile(
      join(FRAGMENT_DIR, `${this.section}-${process.pid}.json`),
      `${JSON.stringify(fragment)}\n`,
    );
  }
}

/** Merges the fragments of one run: sums, and maxima for `peak*` figures. */
export function mergeFragments(fragments: Fragment[]): Fragment {
  const merged: Record<string, Record<string, number> | string> = {
    profile: fragments[0]?.profile ?? PROFILE.name,
  };
  for (const fragment of fragments) {
    for (const [section, figures] of Object.entries(fragment)) {
      if (section === 'profile' || typeof figures !== 'object') continue;
      const into = (merged[section] ?? {}) as Record<string, number>;
      merged[section] = into;
      for (const [key, value] of Object.entries(figures as Record<string, number>)) {
        into[key] = key.startsWith('peak') ? Math.max(into[key] ?? 0, value) : (into[key] ?? 0) + value;
      }
    }
  }
  return merged as Fragment;
}
