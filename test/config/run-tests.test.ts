// `npm test` on a machine that lacks what the suites need (scripts/test-prerequisites.mjs):
// with PATH pointing at a directory without PHP, PHPUnit, Redis, rclone or zsh, it installs
// them through apt-get when it runs as root (here a recording apt-get stands in for Debian's,
// since the machine's packages cannot be removed to try the real one), and otherwise stops
// with the exact command to run. Either way nothing is skipped: the closing line fails.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decide, PREREQUISITES } from '../../scripts/test-prerequisites.mjs';

const root = mkdtempSync(join(tmpdir(), 'gdrive-run-tests-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ALL = 'php-cli php-curl php-xml phpunit redis-server redis-tools rclone zsh';

function npmTest(path: string, extra: NodeJS.ProcessEnv = {}, args: string[] = []) {
  const result = spawnSync(process.execPath, ['scripts/run-tests.mjs', ...args], {
    env: { PATH: path, HOME: root, ...extra },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A directory whose only command is an apt-get that records its arguments and succeeds. */
function recordingAptGet(): { dir: string; calls: () => string[] } {
  const dir = mkdtempSync(join(root, 'bin-'));
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  writeFileSync(join(dir, 'apt-get'), `#!/bin/sh\necho "$*" >> '${log}'\nexit 0\n`);
  chmodSync(join(dir, 'apt-get'), 0o755);
  return {
    dir,
    calls: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line !== '' && line !== '--version'),
  };
}

describe('npm test without its prerequisites', () => {
  it('as root with apt-get: says what it installs, runs apt-get update first, fails when they are still missing', () => {
    const apt = recordingAptGet();
    const run = npmTest(apt.dir);
    expect(run.code).toBe(1);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('0 passed, 8 failed, 0 skipped');
    if (process.getuid?.() !== 0) {
      // Not root here: the same decision as a developer's account gets.
      expect(apt.calls()).toEqual([]);
      expect(run.stderr).toContain('npm test installs packages only when it runs as root');
      expect(run.stderr).toContain(`sudo sh -c 'apt-get update && apt-get install -y ${ALL}'`);
      return;
    }
    expect(run.stdout).toContain(
      `npm test: installing the Debian packages ${ALL} (apt-get update first; set GDRIVE_TEST_NO_INSTALL=1 to install nothing)`,
    );
    expect(apt.calls()).toEqual(['update', `install -y --no-install-recommends ${ALL}`]);
    expect(run.stderr).toContain('npm test: still missing after apt-get.');
  });

  it('with GDRIVE_TEST_NO_INSTALL=1 installs nothing and prints the exact command', () => {
    const apt = recordingAptGet();
    const run = npmTest(apt.dir, { GDRIVE_TEST_NO_INSTALL: '1' });
    expect(run.code).toBe(1);
    expect(apt.calls()).toEqual([]);
    expect(run.stderr).toContain(
      'npm test: GDRIVE_TEST_NO_INSTALL=1 is set, so npm test installs nothing. Run this, then npm test again:',
    );
    const command =
      process.getuid?.() === 0
        ? `apt-get update && apt-get install -y ${ALL}`
        : `sudo sh -c 'apt-get update && apt-get install -y ${ALL}'`;
    expect(run.stderr).toContain(`\n  ${command}\n`);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('0 passed, 8 failed, 0 skipped');
  });

  it('with PATH pointing at an empty dir (no apt-get) names every missing tool and the command', () => {
    const empty = mkdtempSync(join(root, 'empty-'));
    const run = npmTest(empty, { GDRIVE_TEST_NO_INSTALL: '1' });
    expect(run.code).toBe(1);
    for (const tool of ['PHP 8.1+', 'PHPUnit', 'redis-server', 'rclone', 'zsh'])
      expect(run.stderr).toContain(tool);
    expect(run.stderr).toContain(
      `  apt-get update && apt-get install -y ${ALL}   (Debian/Ubuntu; elsewhere install`,
    );
    expect(run.stdout).not.toMatch(/RUN|Test Files/);
  });

  it('decides by uid: root installs, anyone else gets the command with sudo', () => {
    const apt = recordingAptGet();
    const env = { PATH: apt.dir };
    expect(decide(PREREQUISITES, { env, uid: 0 })).toMatchObject({
      action: 'install',
      packages: ALL.split(' '),
    });
    const user = decide(PREREQUISITES, { env, uid: 1000 });
    expect(user.action).toBe('stop');
    expect('say' in user ? user.say : '').toContain(
      `sudo sh -c 'apt-get update && apt-get install -y ${ALL}'`,
    );
    expect(decide([], { env, uid: 0 })).toEqual({ action: 'none' });
  });

  it('runs only the TypeScript tests with filters, so it asks no PHP of them', () => {
    const empty = mkdtempSync(join(root, 'filtered-'));
    const run = npmTest(empty, { GDRIVE_TEST_NO_INSTALL: '1' }, ['test/cli']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('apt-get install -y redis-server redis-tools rclone zsh');
    expect(run.stderr).not.toContain('php');
    expect(run.stdout.trim().split('\n').at(-1)).toBe('0 passed, 4 failed, 0 skipped');
  });
});
