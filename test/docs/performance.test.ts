// docs/performance.md keeps one marked place for the figures of a `npm run bench` run: either
// the notice that none is published yet, or one whole run as the bench prints it (its header
// line and its verdicts), never a hand-written figure in between.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const START = '<!-- bench-figures:start -->';
const END = '<!-- bench-figures:end -->';

it('docs/performance.md holds its bench figures between the markers: none yet, or one whole run', () => {
  const text = readFileSync('docs/performance.md', 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  expect(text.indexOf(START, start + 1)).toBe(-1);
  const figures = text.slice(start + START.length, end).trim();
  const notYet = figures.startsWith('**Figures not yet published.**');
  const wholeRun = /^```\s*\ngdrive-backup bench \S+/.test(figures) && /\nVerdicts\n/.test(figures);
  expect(notYet || wholeRun, figures.slice(0, 200)).toBe(true);
});
