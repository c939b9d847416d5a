// Global setup of the suite's figures: clears the fragments of an earlier run before the
// tests, and afterwards merges those this run wrote into dist/reliability.json and prints the
// table (when the run included reliability tests at all).
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// @ts-expect-error -- a plain .mjs script without type declarations
import { RUN_FILE, renderReliabilityTable } from '../../scripts/reliability-table.mjs';
import { FRAGMENT_DIR, type Fragment, mergeFragments } from './figures.js';

export async function setup(): Promise<void> {
  await rm(FRAGMENT_DIR, { recursive: true, force: true });
}

export async function teardown(): Promise<void> {
  if (!existsSync(FRAGMENT_DIR)) return;
  const names = (await readdir(FRAGMENT_DIR)).filter((name) => name.endsWith('.json')).sort();
  if (names.length === 0) return;
  const fragments: Fragment[] = [];
  for (const name of names)
    fragments.push(JSON.parse(await readFile(join(FRAGMENT_DIR, name), 'utf8')) as Fragment);
  const merged = mergeFragments(fragments);
  await mkdir('dist', { recursive: true });
  await writeFile(RUN_FILE as string, `${JSON.stringify(merged, null, 2)}\n`);
  process.stdout.write(
    `\nReliability (${RUN_FILE as string}):\n${renderReliabilityTable(merged) as string}\n\n`,
  );
}
