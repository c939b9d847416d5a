// Every relative link in README.md and docs/ points to a file of the checkout (and a `#heading`
// to a heading of that file), so moving or renaming a doc cannot leave a newcomer at a dead end.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokenLinks, headingAnchors, linkTargets } from './markdown-links.js';

const root = process.cwd();

function markdownUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return markdownUnder(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

const files = ['README.md', ...markdownUnder('docs')];

describe('relative links in the docs', () => {
  it('finds the docs to check', () => {
    for (const doc of ['cli', 'http-api', 'sandbox', 'performance', 'reliability', 'architecture'])
      expect(files).toContain(`docs/${doc}.md`);
  });

  for (const file of files) {
    it(`${file}: every relative link resolves`, () => {
      expect(brokenLinks(root, file)).toEqual([]);
    });
  }

  it('README.md links every doc under docs/', () => {
    const targets = new Set(linkTargets(readFileSync('README.md', 'utf8')).map((t) => t.split('#')[0]));
    for (const file of files.filter((f) => f !== 'README.md')) expect(targets, file).toContain(file);
  });

  it('reports a missing file, a missing heading and a link out of the checkout, not code or URLs', () => {
    const text = [
      '# Title',
      '## Two words (`x`)',
      '[ok](README.md) [self](#title) [here](#two-words-x) [web](https://example.com/x.md)',
      '[gone](docs/nope.md) [bad anchor](README.md#no-such-heading) [out](../../etc/passwd)',
      '`[code](not-a-link.md)`',
      '```',
      '[fenced](not-a-link-either.md)',
      '```',
      '[ref]: docs/also-gone.md',
    ].join('\n');
    expect(brokenLinks(root, 'README.md', text).map((b) => b.target)).toEqual([
      'docs/nope.md',
      'README.md#no-such-heading',
      '../../etc/passwd',
      'docs/also-gone.md',
    ]);
    expect(headingAnchors('## A\n## A\n### The demo (`npm start`)')).toEqual(
      new Set(['a', 'a-1', 'the-demo-npm-start']),
    );
  });
});
