// Bundles the connector (CLI, service, sandbox, demo) into one ESM file, dist/gdrive-backup.mjs.
// The same file runs the CLI in development, in tests and inside the Plesk package.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

// Exported so `npm run package` bundles with the very same options (minified, into the extension).
export const connectorBuildOptions = {
  entryPoints: ['connector/cli/main.ts'],
  outfile: 'dist/gdrive-backup.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  define: { __CONNECTOR_VERSION__: JSON.stringify(pkg.version) },
  // CommonJS dependencies call require() for Node built-ins; give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
};

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await build(connectorBuildOptions);
}
