#!/usr/bin/env node
// The gdrive-backup command: runs the bundled connector built by `npm run bundle` (npm ci runs it).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/gdrive-backup.mjs', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('gdrive-backup is not built yet: run `npm run bundle` in the project folder.\n');
  process.exit(2);
}
await import(bundle.href);
