// `npm run test:reliability [-- --full] [--publish] [vitest filters]`: the reliability suite
// alone (test/reliability/), the CI size by default, the large one with --full. Its figures are
// printed at the end (test/reliability/figures-setup.ts); --publish then makes them the
// published ones (scripts/reliability-table.mjs --publish).
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const full = args.includes('--full');
const publish = args.includes('--publish');
const rest = args.filter((a) => a !== '--full' && a !== '--publish');
const env = { ...process.env, RELIABILITY_PROFILE: full ? 'full' : 'ci' };
const run = (command, commandArgs) => spawnSync(command, commandArgs, { stdio: 'inherit', env }).status ?? 1;

const status = run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/reliability/', ...rest]);
if (publish) run(process.execPath, ['scripts/reliability-table.mjs', '--publish']);
process.exit(status);
