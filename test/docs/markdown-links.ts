// The relative links of a markdown file and whether they resolve: the file exists, and a
// `#fragment` into a markdown file names one of its headings (GitHub's anchors).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface BrokenLink {
  file: string;
  target: string;
  why: string;
}

/** The text without fenced code blocks and inline code, where brackets are not links. */
function withoutCode(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Inline `[text](target)` and reference `[label]: target` links, in order. */
export function linkTargets(text: string): string[] {
  const prose = withoutCode(text);
  const targets: string[] = [];
  for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(match[1]!);
  for (const match of prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm))
    targets.push(match[1]!);
  return targets;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens, -N for repeats. */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const prose = text.replace(/^```[\s\S]*?^```/gm, '');
  for (const match of prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = match[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i;

/** Every relative link of `file` (a path from `root`) that does not resolve. */
export function brokenLinks(
  root: string,
  file: string,
  text = readFileSync(join(root, file), 'utf8'),
): BrokenLink[] {
  const broken: BrokenLink[] = [];
  for (const target of linkTargets(text)) {
    if (EXTERNAL.test(target)) continue;
    const [path = '', fragment] = target.split('#', 2);
    if (path === '') {
      if (fragment && !headingAnchors(text).has(fragment))
        broken.push({ file, target, why: `no heading #${fragment}` });
      continue;
    }
    const absolute = resolve(root, dirname(file), decodeURI(path));
    if (!absolute.startsWith(resolve(root))) {
      broken.push({ file, target, why: 'points outside the checkout' });
      continue;
    }
    if (!existsSync(absolute)) {
      broken.push({ file, target, why: 'no such file' });
      continue;
    }
    if (fragment && absolute.endsWith('.md') && statSync(absolute).isFile()) {
      if (!headingAnchors(readFileSync(absolute, 'utf8')).has(fragment))
        broken.push({ file, target, why: `no heading #${fragment}` });
    }
  }
  return broken;
}
