// The README's and docs/reliability.md's "Reliability" table, rendered from the figures the
// reliability suite writes (dist/reliability.json, merged by test/reliability/figures-setup.ts).
//
//   node scripts/reliability-table.mjs            prints the table of the last run
//   node scripts/reliability-table.mjs --publish  makes the last run's figures the published ones:
//                                                 docs/reliability.json and both tables
//
// test/reliability/table.test.ts checks that both tables are the render of docs/reliability.json,
// so `npm test` stays deterministic whatever the run's own figures (peak RSS varies).
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const START = '<!-- reliability-table:start -->';
export const END = '<!-- reliability-table:end -->';
export const RUN_FILE = 'dist/reliability.json';
export const PUBLISHED_FILE = 'docs/reliability.json';
export const TABLE_FILES = ['README.md', 'docs/reliability.md'];

const MIB = 1024 * 1024;

/** `a of b`, or "not run" when the section is missing from the figures. */
function of(section, done, total) {
  if (!section) return 'not run';
  return `${section[done] ?? 0} of ${section[total] ?? 0}`;
}

/** The hostile inputs that were neither refused properly nor handled safely, if any. */
function failedInputs(hostile) {
  const failed = (hostile?.inputs ?? 0) - (hostile?.refused ?? 0) - (hostile?.handled ?? 0);
  return failed > 0 ? `; ${failed} neither` : '';
}

/** The markdown table of a figures object (see test/reliability/figures.ts for its fields). */
export function renderReliabilityTable(figures) {
  const { matrix, final, crash, load, hostile, secrets, bytes } = figures;
  const n = (section, key) => section?.[key] ?? 0;
  const injected = n(matrix, 'faultsInjected') + n(load, 'faultsInjected');
  const survived = n(matrix, 'faultsSurvived') + n(load, 'faultsSurvived');
  const rows = [
    [
      'Faults injected and survived',
      matrix || load ? `${survived} of ${injected}` : 'not run',
      `fault matrix: ${n(matrix, 'cells')} cells (each of ${n(matrix, 'operations')} Drive and OAuth operations × each of ${n(matrix, 'faultKinds')} transient fault kinds that applies to it, per seed), plus the load run; each backup and its restore byte-identical, no duplicate or half file`,
    ],
    [
      'Final faults ended cleanly',
      of(final, 'endedClean', 'probes'),
      "Drive full, daily cap, revoked access, expired session, folder deleted, retries run out, a failed rewrite: the admin's sentence within seconds, nothing left that looks finished, the old copy kept",
    ],
    [
      'Crash points survived',
      of(crash, 'survived', 'kills'),
      `SIGKILL of the service in an append, between appends, in a close, in a read (and a restart with another chunk size); the same handles carry on, ${n(crash, 'filesVerified')} files verified (md5 and sha256)`,
    ],
    [
      'Concurrent transfers verified',
      of(load, 'transfersVerified', 'concurrentTransfers'),
      `backups and restores at once under faults; service peak RSS ${(n(load, 'peakRssBytes') / MIB).toFixed(0)} MiB, peak ${n(load, 'peakFds')} open descriptors`,
    ],
    [
      'Hostile inputs tried',
      hostile ? `${n(hostile, 'inputs')}` : 'not run',
      `${n(hostile, 'refused')} refused with a clear 4xx in the API's shape and nothing changed on Drive or disk, ${n(hostile, 'handled')} handled safely (serialised appends, reads past the end)${failedInputs(hostile)}`,
    ],
    [
      'Secrets found',
      secrets ? `${n(secrets, 'secretsFound')}` : 'not run',
      `in ${n(secrets, 'filesScanned')} data-dir files, ${n(secrets, 'logLines')} log lines and ${n(secrets, 'errorBodies')} error bodies (refresh and access tokens, client secret, API token; plain and base64)`,
    ],
    [
      'Bytes lost',
      bytes ? `${n(bytes, 'lost')}` : 'not run',
      `of ${n(bytes, 'verified') + n(bytes, 'lost')} bytes transferred (a byte counts as lost unless its transfer verified)`,
    ],
  ];
  const profile =
    figures.profile === 'full' ? '`npm run test:reliability -- --full`' : '`npm test` (CI size)';
  return [
    `Figures of ${profile}:`,
    '',
    '| Figure | Value | What was tried |',
    '|---|---|---|',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
}

/** `text` with the part between the markers replaced by `table`. */
export function replaceTable(text, table, file) {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${file} has no ${START} ... ${END} markers`);
  return `${text.slice(0, start + START.length)}\n${table}\n${text.slice(end)}`;
}

/** The table between the markers of `text` (trimmed). */
export function tableIn(text) {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return null;
  return text.slice(start + START.length, end).trim();
}

function main() {
  const figures = JSON.parse(readFileSync(RUN_FILE, 'utf8'));
  const table = renderReliabilityTable(figures);
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--publish')) {
    writeFileSync(PUBLISHED_FILE, `${JSON.stringify(figures, null, 2)}\n`);
    for (const file of TABLE_FILES)
      writeFileSync(file, replaceTable(readFileSync(file, 'utf8'), table, file));
    process.stdout.write(`published to ${[PUBLISHED_FILE, ...TABLE_FILES].join(', ')}\n`);
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) main();
