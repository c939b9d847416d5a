// `npm test`: every suite of the product, TypeScript (vitest) then PHP (PHPUnit), and one
// closing line with the totals of both, `N passed, N failed`, which CI reads.
// `npm test -- <vitest filters>` runs only matching TypeScript tests (and no PHP).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const filters = process.argv.slice(2);
mkdirSync('dist', { recursive: true });
const totals = { passed: 0, failed: 0, skipped: 0 };
let broken = false;

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

// --- PHP suites
if (filters.length === 0) {
  const php = spawnSync('php', ['--version'], { encoding: 'utf8' });
  const phpunit = spawnSync('phpunit', ['--version'], { encoding: 'utf8' });
  if (php.status !== 0 || phpunit.status !== 0) {
    process.stderr.write(
      '\nThe PHP suites need PHP 8.1+ and PHPUnit: run `apt-get install -y php-cli php-curl php-xml phpunit` (Debian) and test again.\n',
    );
    broken = true;
  } else {
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
}

if (broken) totals.failed += 1;
process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exit(totals.failed > 0 ? 1 : 0);
