// Renders the configuration table of connector/config/config.ts into README.md, between the
// markers <!-- config-table:start --> and <!-- config-table:end -->. `npm run docs` runs it;
// test/docs/readme.test.ts fails when the README is out of date.
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

export const START = '<!-- config-table:start -->';
export const END = '<!-- config-table:end -->';

// Run, not imported (by the README test): compared as paths, so spaces and symlinks in the
// checkout's path do not turn `npm run docs` into a silent no-op.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error('README.md lacks the config-table markers');
  const table = await renderConfigTable();
  writeFileSync('README.md', `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`);
  console.log('README.md configuration table updated');
}
