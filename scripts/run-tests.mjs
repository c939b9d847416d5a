// `npm test`: every suite of the product, TypeScript (vitest) then PHP (PHPUnit), and one
// closing line with the totals of both, `N passed, N failed, N skipped`, which CI reads.
// `npm test -- <vitest filters>` runs only matching TypeScript tests (and no PHP).
//
// First it makes sure what the suites need beyond node_modules is there (PHP, PHPUnit, Redis,
// rclone, zsh: test-prerequisites.mjs): installed with apt-get when it runs as root, unless
// GDRIVE_TEST_NO_INSTALL=1; otherwise it stops with the exact command to run. A suite that
// cannot run counts as failed, never as skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { decide, install, missingPrerequisites } from './test-prerequisites.mjs';

const filters = process.argv.slice(2);
const totals = { passed: 0, failed: 0, skipped: 0 };
let broken = false;

function closingLine() {
  process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
}

// --- What the suites need
const withPhp = filters.length === 0;
let missing = missingPrerequisites({ php: withPhp });
let decision = decide(missing);
if (decision.action === 'install') {
  process.stdout.write(decision.say);
  const installed = install(decision.packages);
  missing = missingPrerequisites({ php: withPhp });
  if (missing.length > 0) {
    decision = decide(missing, { env: { ...process.env, GDRIVE_TEST_NO_INSTALL: '1' } });
    decision.say = `npm test: ${installed ? 'still missing after apt-get' : 'apt-get failed'}.\n${decision.say}`;
  }
}
if (missing.length > 0) {
  process.stderr.write(`\n${decision.say}`);
  // Every suite that cannot run is a failure: nothing ran, nothing is skipped.
  totals.failed = missing.length;
  closingLine();
  process.exit(1);
}

mkdirSync('dist', { recursive: true });

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

// --- TypeScript suites
const vitestJson = 'dist/vitest-results.json';
rmSync(vitestJson, { force: true });
const vitestStatus = run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...filters]);
if (existsSync(vitestJson)) {
  const report = JSON.parse(readFileSync(vitestJson, 'utf8'));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
  // A suite that fails to load has no failed tests but is a failure all the same.
  if (vitestStatus !== 0 && report.numFailedTests === 0) {
    totals.failed += Math.max(1, report.numFailedTestSuites);
  }
} else if (vitestStatus !== 0) {
  broken = true;
}

// --- PHP suites (PHP and PHPUnit were checked above)
if (withPhp) {
  const junit = 'dist/phpunit-junit.xml';
  rmSync(junit, { force: true });
  const status = run('phpunit', ['-c', 'test/php/phpunit.xml', '--log-junit', junit]);
  if (existsSync(junit)) {
    const xml = readFileSync(junit, 'utf8');
    const top = /<testsuite [^>]*>/.exec(xml)?.[0] ?? '';
    const attr = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(top)?.[1] ?? 0);
    const failed = attr('failures') + attr('errors');
    const skipped = attr('skipped');
    totals.failed += failed;
    totals.skipped += skipped;
    totals.passed += attr('tests') - failed - skipped;
    if (status !== 0 && failed === 0) totals.failed += 1;
  } else if (status !== 0) {
    broken = true;
  }
}

if (broken) totals.failed += 1;
closingLine();
process.exit(totals.failed > 0 ? 1 : 0);
