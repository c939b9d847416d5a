// The README a newcomer reads first, and the generated parts of the docs: each is the render of
// its source, so none drifts from the code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs build script without type declarations
import { END, renderConfigTable, START, TABLE_FILE } from '../../scripts/readme-config.mjs';

const readme = readFileSync('README.md', 'utf8');

describe('README', () => {
  it('keeps the two commands a newcomer runs', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });

  it('reads in the order a newcomer needs it, and stays short', () => {
    const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual([
      'Try it in one command',
      'Install into Plesk',
      'Set up Google',
      'Troubleshooting',
      'Develop',
      'Reliability',
      'Performance',
    ]);
    expect(readme.split('\n').length).toBeLessThan(300);
  });

  it('names the Web client redirect URI Plesk needs and the one the CLI listens on', () => {
    expect(readme).toContain('https://<panel host>:8443/modules/gdrive-backup/public/oauth-callback.php');
    expect(readme).toContain('http://127.0.0.1:28373/oauth2callback');
  });
});

describe('the settings table', () => {
  it(`${TABLE_FILE} shows it exactly as config.ts defines it (run \`npm run docs\` to update)`, async () => {
    const text = readFileSync(TABLE_FILE as string, 'utf8');
    const start = text.indexOf(START);
    const end = text.indexOf(END);
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    expect(text.slice(start + START.length, end).trim()).toBe((await renderConfigTable()).trim());
  });

  it('lives in one place only', () => {
    expect(readme).not.toContain(START);
  });
});
