// Renders the settings table of connector/config/config.ts into docs/cli.md ("Settings"), between
// the markers <!-- config-table:start --> and <!-- config-table:end -->. `npm run docs` runs it;
// test/docs/readme.test.ts fails when docs/cli.md is out of date.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function renderConfigTable() {
  const result = await build({
    stdin: {
      contents: "export { describeSettings } from './connector/config/config.ts';",
      resolveDir: process.cwd(),
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    logLevel: 'error',
  });
  const code = result.outputFiles[0].text;
  const { describeSettings } = await import(
    `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`
  );
  const rows = describeSettings().map(
    (r) =>
      `| \`${r.env}\` | \`${r.flag}\` | ${r.default === '' ? '(empty)' : `\`${r.default}\``} | ${r.accepts} | ${r.help} |`,
  );
  return [
    '| Environment | Flag | Default | Accepted values | What it does |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The file the table lives in, relative to the checkout's root. */
export const TABLE_FILE = 'docs/cli.md';
export const START = '<!-- config-table:start -->';
export const END = '<!-- config-table:end -->';

// Run, not imported (by the docs test): compared as paths, so spaces and symlinks in the
// checkout's path do not turn `npm run docs` into a silent no-op.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = readFileSync(TABLE_FILE, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${TABLE_FILE} lacks the config-table markers`);
  const table = await renderConfigTable();
  writeFileSync(TABLE_FILE, `${text.slice(0, start + START.length)}\n${table}\n${text.slice(end)}`);
  console.log(`${TABLE_FILE} settings table updated`);
}
