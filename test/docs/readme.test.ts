import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs build script without type declarations
import { END, renderConfigTable, START } from '../../scripts/readme-config.mjs';

describe('README', () => {
  it('shows the configuration table exactly as config.ts defines it (run `npm run docs` to update)', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start + START.length, end).trim()).toBe((await renderConfigTable()).trim());
  });

  it('keeps the two commands a newcomer runs', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
