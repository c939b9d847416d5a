// The published Reliability table: docs/reliability.md and the README show exactly the render
// of docs/reliability.json (`npm run test:reliability -- --full --publish` updates all three),
// and the published figures have every row the suite produces.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  PUBLISHED_FILE,
  renderReliabilityTable,
  TABLE_FILES,
  tableIn,
  // @ts-expect-error -- a plain .mjs script without type declarations
} from '../../scripts/reliability-table.mjs';
import { mergeFragments } from './figures.js';

const published = JSON.parse(readFileSync(PUBLISHED_FILE as string, 'utf8')) as Record<string, unknown>;

describe('the Reliability table', () => {
  for (const file of TABLE_FILES as string[]) {
    it(`${file} shows the render of the published figures`, () => {
      expect(tableIn(readFileSync(file, 'utf8'))).toBe(renderReliabilityTable(published));
    });
  }

  it('the published figures come from a run with every section, nothing lost and no secret found', () => {
    for (const section of ['matrix', 'final', 'crash', 'load', 'hostile', 'secrets', 'bytes'])
      expect(published, section).toHaveProperty(section);
    expect(published).toMatchObject({ bytes: { lost: 0 }, secrets: { secretsFound: 0 } });
  });

  it('renders the same figures to the same table (peaks merge by maximum, counts by sum)', () => {
    const a = { profile: 'ci', load: { peakFds: 40, faultsInjected: 3 }, bytes: { verified: 10, lost: 0 } };
    const b = { profile: 'ci', load: { peakFds: 90, faultsInjected: 4 }, bytes: { verified: 5, lost: 0 } };
    const merged = mergeFragments([a, b]);
    expect(merged).toEqual({
      profile: 'ci',
      load: { peakFds: 90, faultsInjected: 7 },
      bytes: { verified: 15, lost: 0 },
    });
    expect(renderReliabilityTable(merged)).toBe(renderReliabilityTable(mergeFragments([b, a])));
    expect(renderReliabilityTable({ profile: 'ci' })).toMatch(/\| Crash points survived \| not run \|/);
  });
});
