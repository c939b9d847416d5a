// What `npm test` needs beyond node_modules, and what to do when some of it is missing.
//
// Each tool is probed by running it (so a broken install counts as missing) and maps to the
// Debian package that brings it. When something is missing, `npm test` installs those
// packages itself where it can (root and apt-get: it says exactly what, runs `apt-get update`
// first), unless GDRIVE_TEST_NO_INSTALL=1; otherwise it stops with the exact command to run.
// Nothing is skipped: a suite that cannot run is a failure.
import { spawnSync } from 'node:child_process';

/** name, what needs it, the Debian package, and the probe that proves it works. */
export const PREREQUISITES = [
  {
    name: 'PHP 8.1+',
    neededBy: 'the PHP suites',
    packages: ['php-cli'],
    probe: ['php', '-r', 'exit(PHP_VERSION_ID >= 80100 ? 0 : 1);'],
    php: true,
  },
  {
    name: "PHP's curl extension",
    neededBy: 'the PHP suites',
    packages: ['php-curl'],
    probe: ['php', '-r', 'exit(extension_loaded("curl") ? 0 : 1);'],
    php: true,
  },
  {
    name: "PHP's xml extensions",
    neededBy: 'PHPUnit',
    packages: ['php-xml'],
    probe: ['php', '-r', 'exit(extension_loaded("dom") && extension_loaded("xml") ? 0 : 1);'],
    php: true,
  },
  {
    name: 'PHPUnit',
    neededBy: 'the PHP suites',
    packages: ['phpunit'],
    probe: ['phpunit', '--version'],
    php: true,
  },
  {
    name: 'redis-server',
    neededBy: 'the shared-state (Redis) tests',
    packages: ['redis-server'],
    probe: ['redis-server', '--version'],
  },
  {
    name: 'redis-cli',
    neededBy: 'the shared-state (Redis) tests',
    packages: ['redis-tools'],
    probe: ['redis-cli', '--version'],
  },
  {
    name: 'rclone',
    neededBy: 'the rclone interoperability test',
    packages: ['rclone'],
    probe: ['rclone', 'version'],
  },
  {
    name: 'zsh',
    neededBy: 'the shell completion test',
    packages: ['zsh'],
    probe: ['zsh', '-fc', 'exit 0'],
  },
];

export const NO_INSTALL_VARIABLE = 'GDRIVE_TEST_NO_INSTALL';

function works(probe, env) {
  const result = spawnSync(probe[0], probe.slice(1), { env, stdio: 'ignore', timeout: 30_000 });
  return result.error === undefined && result.status === 0;
}

/** The prerequisites that are missing (the PHP ones only when `php` is true). */
export function missingPrerequisites({ env = process.env, php = true } = {}) {
  return PREREQUISITES.filter((item) => (php || !item.php) && !works(item.probe, env));
}

export function installCommand(packages) {
  return `apt-get update && apt-get install -y ${packages.join(' ')}`;
}

/**
 * What to do about `missing`: { action: 'none' } | { action: 'install', packages, say } |
 * { action: 'stop', say }. `say` is what npm test prints.
 */
export function decide(missing, { env = process.env, uid = process.getuid?.() ?? -1 } = {}) {
  if (missing.length === 0) return { action: 'none' };
  const packages = [...new Set(missing.flatMap((item) => item.packages))];
  const what = missing.map((item) => `${item.name} (for ${item.neededBy})`).join(', ');
  const hasAptGet = works(['apt-get', '--version'], env);
  const optedOut = env[NO_INSTALL_VARIABLE] === '1';
  if (hasAptGet && uid === 0 && !optedOut)
    return {
      action: 'install',
      packages,
      say: `npm test: missing ${what}.\nnpm test: installing the Debian packages ${packages.join(' ')} (apt-get update first; set ${NO_INSTALL_VARIABLE}=1 to install nothing)\n`,
    };
  const command = hasAptGet
    ? uid === 0
      ? installCommand(packages)
      : `sudo sh -c '${installCommand(packages)}'`
    : `${installCommand(packages)}   (Debian/Ubuntu; elsewhere install ${missing.map((item) => item.name).join(', ')} with the system's package manager)`;
  const why = optedOut
    ? `${NO_INSTALL_VARIABLE}=1 is set, so npm test installs nothing`
    : uid !== 0
      ? 'npm test installs packages only when it runs as root'
      : 'apt-get is not available here';
  return {
    action: 'stop',
    packages,
    say: `npm test: missing ${what}.\nnpm test: ${why}. Run this, then npm test again:\n  ${command}\n`,
  };
}

/** Runs apt-get update, then apt-get install of `packages`; true when both succeeded. */
export function install(packages, env = process.env) {
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
    process.stdout.write(`npm test: apt-get ${args.join(' ')}\n`);
    const result = spawnSync('apt-get', args, { env: aptEnv, stdio: 'inherit' });
    if (result.error !== undefined || result.status !== 0) return false;
  }
  return true;
}
